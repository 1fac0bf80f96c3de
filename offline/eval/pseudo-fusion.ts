/**
 * `i3 tune-fusion --pseudo --index <build dir>`: the fusion weight of a built index from its own pseudo-queries,
 * with no labels (docs/RESULTS.md, "adaptive fusion"; the rule: offline/build/adaptive-fusion.ts). Cuts a 12-24 word
 * span from each of 1000 random documents, searches it on the dense side and on BM25 with the worker's code (the
 * index's query model and default probe; top 10 each), and measures on each side the MRR@10 of the document the span
 * was cut from. The model's anchor (`model.json` "pseudoFusion": its weight and the same ratio on the corpus that
 * weight was tuned on) turns the ratio into a weight; prints the `i3 defaults` line, or applies it with --apply.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { intFlag, parseFlags, runCommand, STDIO, UsageError, type CommandIO } from "../command.ts";
import type { Manifest } from "../../src/format/index.ts";
import { adaptFusion, statisticLine } from "../build/adapt-fusion.ts";
import { parsePseudoFusionAnchor, PSEUDO_FUSION_QUERIES, type PseudoFusionAnchor } from "../build/adaptive-fusion.ts";
import { readManifest } from "../build/build-dir.ts";
import { defaultModelDir } from "../build/command.ts";
import { BuildError } from "../build/errors.ts";
import { replacedQuery } from "../build/model.ts";
import { openIndex } from "./index-search.ts";
import { pseudoStatistic } from "./pseudo-statistic.ts";

export const PSEUDO_FUSION_USAGE = `usage: i3 tune-fusion --pseudo --index <build dir> [options]

Sets the fusion weight of a built index from its own pseudo-queries, with no labels: the model's tuned weight, scaled
by how well the dense side finds the documents ${PSEUDO_FUSION_QUERIES.words.min}-${PSEUDO_FUSION_QUERIES.words.max} word spans were cut from, relative to BM25, against the same on the
corpus that weight was tuned on (model.json "pseudoFusion"). Prints the statistic and the \`i3 defaults\` line.

options:
  --model <dir>     the model the index was built with, for its anchor (default: the one models/default.json names)
  --queries <n>     pseudo-queries (default ${PSEUDO_FUSION_QUERIES.n})
  --apply           write the weight into the index's manifest.json (then publish it)
  --threads <n>     onnxruntime intra-op threads
  --verbose         stack traces on errors`;

/**
 * `i3 tune-fusion --pseudo ...` (argv: the words after "tune-fusion", --pseudo among them).
 *
 * @example
 * process.exitCode = await runPseudoFusionCommand(["--pseudo", "--index", "build/npl", "--apply"]);
 */
export async function runPseudoFusionCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  return runCommand("tune-fusion", PSEUDO_FUSION_USAGE, argv, io, async () => {
    const { values: v, positionals } = parseFlags(argv, {
      pseudo: { type: "boolean" }, index: { type: "string" }, model: { type: "string" }, queries: { type: "string" },
      apply: { type: "boolean" }, threads: { type: "string" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (!v.index) throw new UsageError("--index is required");
    const o = { queries: intFlag("queries", v.queries) ?? PSEUDO_FUSION_QUERIES.n, threads: intFlag("threads", v.threads), apply: !!v.apply };
    const modelDir = v.model ?? defaultModelDir();
    const anchor = await modelAnchor(modelDir, (await readManifest(v.index)).manifest);
    if (!anchor) {
      if (o.apply) throw new BuildError("invalid_model", `model ${modelDir}: model.json records no "pseudoFusion" anchor, so there is no weight to apply`);
      const idx = await openIndex(v.index);
      if (!idx.lexical) throw new BuildError("invalid_build", `${v.index} has no lexical section (built with --no-lexical): nothing to fuse`);
      io.out(statisticLine(v.index, await pseudoStatistic(idx, { n: o.queries, threads: o.threads })));
      return io.out(`model ${modelDir} records no "pseudoFusion" anchor: this ratio, measured on the corpus its fusion weight was tuned on, is one`);
    }
    const a = await adaptFusion(v.index, anchor, o);
    io.out(statisticLine(v.index, a.statistic));
    io.out(`anchor (${modelDir}): weight ${anchor.weight} ${anchor.normalization}, ratio ${anchor.ratio.toFixed(4)}; factor ${a.factor.toFixed(4)} -> weight ${a.weight}`);
    if (o.apply) return io.out(`applied: ${v.index} now fuses weighted ${a.weight} ${anchor.normalization}; publish it for a new version`);
    io.out(`apply it: npm run i3 -- defaults ${v.index} --fusion weighted --fusion-weight ${a.weight} --fusion-normalization ${anchor.normalization} (then publish), or rerun with --apply`);
  });
}

/** The model's anchor, when the index was built with that model (its shipped query model's sha256, else its name). */
async function modelAnchor(dir: string, m: Manifest): Promise<PseudoFusionAnchor | undefined> {
  const file = path.join(dir, "model.json");
  let sidecar: { name?: string; query?: string; edgeQuery?: string; edgeQueryGraph?: "optimized"; sha256?: Record<string, string>; pseudoFusion?: unknown };
  try {
    sidecar = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new BuildError("invalid_model", `model ${dir}: cannot read model.json (${(e as Error).message.split("\n")[0]})`, { cause: e });
  }
  const queryHash = sidecar.sha256?.[sidecar.edgeQuery || sidecar.query || ""];
  const same = queryHash ? [queryHash, replacedQuery(sidecar)].includes(m.model.query.sha256) : sidecar.name === m.model.name;
  if (!same) throw new BuildError("invalid_model", `model ${dir} (${sidecar.name}) is not the model the index was built with (${m.model.name}): its anchor does not apply; pass --model`);
  return parsePseudoFusionAnchor(sidecar.pseudoFusion, file);
}
