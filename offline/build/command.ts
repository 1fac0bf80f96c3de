// Command-line front ends of `i3 build` and `i3 merge`: argv -> options -> run; return the exit code
// (0 done, 1 failed, 2 bad usage).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Device } from "../encoder/node-encoder.ts";
import { buildIndex } from "./build.ts";
import { choiceFlag, intFlag, numberFlag, parseFlags, runCommand, STDIO, UsageError, type CommandIO } from "../command.ts";
import { parseFieldsFlag, readFieldsFile } from "./fields.ts";
import { mergeIndexes } from "./merge.ts";
import { compactIndex } from "./compact.ts";
import { updateIndex } from "./update.ts";
import { parseSearchDefaults, SEARCH_DEFAULT_FLAGS, SEARCH_DEFAULT_USAGE } from "./search-defaults.ts";
import { parseSlice } from "./slice.ts";


/** Where a build's progress goes: the terminal's stderr, or a caller's io (its lines, one by one). */
function progressTo(io: CommandIO): { write(text: string): void } | undefined {
  return io === STDIO ? undefined : { write: (text: string) => text.split("\n").filter(Boolean).forEach((l) => io.err(l)) };
}

/** The shipped default model: models/<name> where models/default.json says {"model": "<name>"}. */
export function defaultModelDir(): string {
  const models = resolve(import.meta.dirname, "../../models");
  return join(models, JSON.parse(readFileSync(join(models, "default.json"), "utf8")).model);
}

export const BUILD_USAGE = `usage: i3 build --corpus <corpus.jsonl | BEIR dir> [--model <model dir>] --out <dir> [options]
       i3 build --base <build dir> --corpus <corpus.jsonl> [--compact-above <share>] [--model <model dir>] --out <dir>
       i3 build --base <build dir> [--upsert <corpus.jsonl>] [--delete <ids.txt>] [--model <model dir>] --out <dir>

Encodes a corpus into an index directory (manifest.json + objects/). Works in <out>.partial/ and renames it to
<out> when complete and verified; rerunning an interrupted build with the same arguments resumes it.

With --base, an incremental update of that build (a fresh one or an earlier update): the new version reuses every
object of the base and writes a delta (the upserted documents, encoded; the earlier updates' documents, copied) and
tombstones for the base documents replaced or deleted. \`i3 publish\` then uploads only the new objects. With
--corpus (the whole new corpus) the update finds the changes itself: documents that are new or differ (title, text or
metadata) are upserted, documents the corpus no longer has are deleted. Ids to delete that the base does not have
are reported, not an error. Every query scans the delta whole and BM25 counts replaced documents until
\`i3 compact\` folds the delta into a new base; --compact-above <share> (e.g. 0.1) does that at once when the delta
and the tombstones exceed that share of the base's documents. Only --model, --device, --encoder, --threads and
--force apply: the rest are the base's.

corpus: one JSON object per line, BEIR {"_id", "title", "text"} or {"id", "title"?, "text", "metadata"?};
  UTF-8, unique ids; "text" may be empty when "title" is not (title-only documents are indexed by their title).

options:
  --model <dir>            models/<name> with a model.json sidecar (default: the one models/default.json names)
  --device auto|cpu|cuda   where passages are encoded (default auto: CUDA when available, else CPU)
  --passage fp32|int8      the passage model: the model's reference (default), or its int8 CPU model (model.json
                           "cpuPassage", onnxruntime only): about twice the passages/s on a CPU, nDCG@10 within 0.002
                           with every partition scanned (docs/RESULTS.md)
  --encoder auto|onnx|torch
                           onnxruntime-node, or PyTorch (python -m offline.train.encode_server; $I3_PYTHON, else
                           python3) with the weights of the model's passage.onnx (default auto: onnxruntime, except on
                           a GPU machine whose onnxruntime has no CUDA provider: PyTorch there)
  --batch <n>              passages per encoder call (default 32)
  --shard-size <n>         passages per vector shard (default 8192)
  --window <tokens>        passage window (default and maximum: the model's maxPassageTokens)
  --stride <tokens>        tokens between window starts, <= window (default 3/4 of the window, 96 for 128)
  --no-split               one passage per document: its first window
  --no-lexical             no BM25 lexical section (dense search only)
  --partitions <n>         IVF partitions of the vectors (default: one per 1024 passages, one per 256 where the int4
                           scan makes the index resident, at most 304 at 512 dims; 1 = a flat index)
  --probe <n>              partitions a query scans by default (default: the fewest reaching --recall-target)
  --refine auto|on|off     half-precision rows to re-score the best candidates (default auto: when the plan needs them)
  --scan auto|int8|int4    int4 rows made from the int8 ones at load take half the isolate memory; the plan takes
                           them where it refines and deeper refining keeps its recall@10. auto (default): tried where
                           that makes the index resident in a worker at the default budget (about 49k-121k passages
                           at 512 dims); int4: tried at any size; int8: never
  --recall-target <r>      recall@10 against exact float32 search that the default probe must reach, measured on 200
                           pseudo-queries cut from the corpus (default 0.98)
${SEARCH_DEFAULT_USAGE}
                           (all four can be changed after the build: \`i3 defaults\`)
  --shard <k>/<n>          build only slice k of n (contiguous document ranges); join them with \`i3 merge\` (a
                           slice keeps the model's fusion weight: adapt the merged index with
                           \`i3 tune-fusion --pseudo --index <dir> --apply\`)
  --id <name>              index id in the manifest (default: the name of --out)
  --limit <n>              only the first n documents
  --fields <name:type,...> filterable fields read from each document's "metadata": types int (32-bit), date
                           (ISO 8601: 2020-01-31 or 2020-01-31T12:00:00Z), keyword, keyword[] (strings); e.g.
                           --fields year:int,lang:keyword,tags:keyword[],published:date. A value of another type
                           fails the build naming the line and field; a document without the field is fine
  --fields-file <json>     the same as a JSON object, {"year": "int", "tags": "keyword[]"}
  --skip-empty             skip documents whose title and text are both empty (counted, reported on stderr and in
                           build-info.json) instead of failing
  --threads <n>            onnxruntime intra-op threads (default: all cores)
  --restart                discard <out>.partial instead of resuming it
  --force                  replace <out> if it exists
  --verbose                stack traces on errors`;

export const MERGE_USAGE = `usage: i3 merge --out <dir> <build dir> <build dir> ...

Joins build directories into one index: the slices of \`i3 build --shard k/n\` (any order; all n needed), or whole
builds made with the same model and parameters (in the order given; document ids must be unique). Every object is
checked against its sha256; doc ordinals are renumbered; the result equals a single build of the whole corpus.

options:
  --id <name>   index id in the manifest (default: the name of --out)
  --force       replace <out> if it exists
  --verbose     stack traces on errors`;

/**
 * `i3 build ...` (argv: the words after "build").
 *
 * @example
 * process.exitCode = await runBuildCommand(["--corpus", "data/scifact", "--model", "models/use-lite", "--out", "out/scifact"]);
 */
export async function runBuildCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  return runCommand("build", BUILD_USAGE, argv, io, async () => {
    const { values: v, positionals } = parseFlags(argv, {
      corpus: { type: "string" }, model: { type: "string" }, out: { type: "string" }, device: { type: "string" }, encoder: { type: "string" }, passage: { type: "string" },
      batch: { type: "string" }, "shard-size": { type: "string" }, window: { type: "string" }, stride: { type: "string" },
      "no-split": { type: "boolean" }, "no-lexical": { type: "boolean" }, ...SEARCH_DEFAULT_FLAGS,
      shard: { type: "string" }, id: { type: "string" }, limit: { type: "string" }, "skip-empty": { type: "boolean" },
      fields: { type: "string" }, "fields-file": { type: "string" },
      partitions: { type: "string" }, probe: { type: "string" }, refine: { type: "string" }, scan: { type: "string" }, "recall-target": { type: "string" },
      threads: { type: "string" }, restart: { type: "boolean" }, force: { type: "boolean" }, verbose: { type: "boolean" },
      base: { type: "string" }, upsert: { type: "string" }, delete: { type: "string" }, "compact-above": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    v.model ??= defaultModelDir();
    const device = (v.device ?? "auto") as string;
    if (!["auto", "cpu", "cuda"].includes(device)) throw new UsageError(`--device must be auto, cpu or cuda, got ${JSON.stringify(device)}`);
    if (v.base) return runUpdate(v, device as Device, io);
    if (v.upsert || v.delete || v["compact-above"]) throw new UsageError("--upsert, --delete and --compact-above update a build: give it with --base");
    for (const k of ["corpus", "out"] as const) if (!v[k]) throw new UsageError(`missing --${k}`);
    const defaults = parseSearchDefaults(v);
    if (v.fields && v["fields-file"]) throw new UsageError("--fields and --fields-file: give one");
    const fields = v.fields ? parseFieldsFlag(v.fields as string) : v["fields-file"] ? await readFieldsFile(v["fields-file"] as string) : undefined;
    await buildIndex({
      corpus: v.corpus as string, model: v.model as string, out: v.out as string, device: device as Device,
      encoder: choiceFlag("encoder", v.encoder as string, ["auto", "onnx", "torch"] as const),
      passage: choiceFlag("passage", v.passage as string, ["fp32", "int8"] as const),
      batch: intFlag("batch", v.batch as string), shardSize: intFlag("shard-size", v["shard-size"] as string),
      window: intFlag("window", v.window as string), stride: intFlag("stride", v.stride as string),
      split: !v["no-split"], slice: v.shard ? parseSlice(v.shard as string) : undefined, id: v.id as string | undefined,
      limit: intFlag("limit", v.limit as string, 0), skipEmpty: !!v["skip-empty"], threads: intFlag("threads", v.threads as string),
      restart: !!v.restart, force: !!v.force,
      lexical: !v["no-lexical"],
      partitioning: {
        partitions: intFlag("partitions", v.partitions as string), probe: intFlag("probe", v.probe as string),
        refine: choiceFlag("refine", v.refine as string, ["auto", "on", "off"] as const),
        scan: choiceFlag("scan", v.scan as string, ["auto", "int8", "int4"] as const),
        recallTarget: numberFlag("recall-target", v["recall-target"] as string, 0, 1),
      },
      lexicalOptions: defaults,
      fields,
      // A caller's io gets the progress and the summary too (the terminal's stderr otherwise).
      stderr: progressTo(io),
    });
  });
}

/** Flags of `i3 build` that an update takes from its base, and so refuses. */
const BASE_PARAMETERS = [
  "passage", "batch", "shard-size", "window", "stride", "no-split", "no-lexical", "shard", "id", "limit", "skip-empty", "fields", "fields-file",
  "partitions", "probe", "refine", "scan", "recall-target", "restart", ...Object.keys(SEARCH_DEFAULT_FLAGS),
];

/** `i3 build --base ...`: an incremental update. */
async function runUpdate(v: Record<string, unknown>, device: Device, io: CommandIO): Promise<void> {
  if (!v.out) throw new UsageError("missing --out");
  const fixed = BASE_PARAMETERS.filter((k) => v[k] !== undefined && v[k] !== false);
  if (fixed.length) throw new UsageError(`--base: --${fixed[0]} is the base's (an update keeps its parameters; \`i3 compact\`, then a new build, changes them)`);
  await updateIndex({
    base: v.base as string, corpus: v.corpus as string | undefined, upsert: v.upsert as string | undefined, delete: v.delete as string | undefined,
    compactAbove: numberFlag("compact-above", v["compact-above"] as string | undefined, 0), model: v.model as string, out: v.out as string,
    force: !!v.force, device, encoder: choiceFlag("encoder", v.encoder as string, ["auto", "onnx", "torch"] as const), threads: intFlag("threads", v.threads as string),
    stderr: progressTo(io),
  });
}

export const COMPACT_USAGE = `usage: i3 compact --base <build dir> --out <dir> [--model <model dir>] [options]

Folds an updated build's delta and tombstones into a new base: a fresh build of its live documents (the base's not
deleted or replaced, then the delta's) with the base's model and parameters, so it equals \`i3 build\` of the same
corpus. It encodes every document again (as a build does).

options:
  --model <dir>            the model the base was built with (default: the one models/default.json names)
  --device auto|cpu|cuda   where passages are encoded
  --encoder auto|onnx|torch
  --threads <n>            onnxruntime intra-op threads
  --force                  replace <out> if it exists
  --verbose                stack traces on errors`;

/** \`i3 compact --base <dir> --out <dir>\` (argv: the words after "compact"). */
export async function runCompactCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  return runCommand("compact", COMPACT_USAGE, argv, io, async () => {
    const { values: v, positionals } = parseFlags(argv, {
      base: { type: "string" }, out: { type: "string" }, model: { type: "string" }, device: { type: "string" }, encoder: { type: "string" },
      threads: { type: "string" }, force: { type: "boolean" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    for (const k of ["base", "out"] as const) if (!v[k]) throw new UsageError(`missing --${k}`);
    await compactIndex({
      base: v.base as string, out: v.out as string, model: (v.model as string | undefined) ?? defaultModelDir(), force: !!v.force,
      device: choiceFlag("device", v.device as string, ["auto", "cpu", "cuda"] as const),
      encoder: choiceFlag("encoder", v.encoder as string, ["auto", "onnx", "torch"] as const), threads: intFlag("threads", v.threads as string),
      stderr: progressTo(io),
    });
  });
}

/** `i3 merge --out <dir> <dirs...>` (argv: the words after "merge"). */
export async function runMergeCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  return runCommand("merge", MERGE_USAGE, argv, io, async () => {
    const { values: v, positionals } = parseFlags(argv, {
      out: { type: "string" }, id: { type: "string" }, force: { type: "boolean" }, verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (!v.out) throw new UsageError("missing --out");
    if (positionals.length === 0) throw new UsageError("no build directories to merge");
    await mergeIndexes({ inputs: positionals, out: v.out as string, id: v.id as string | undefined, force: !!v.force });
  });
}
