/**
 * Tunes the hybrid fusion weight of a built index on a TRAIN split (never on test); prints the `i3 defaults` line
 * that applies the pick to the build:
 *
 *   i3 tune-fusion --data <BEIR dir> --index <build dir> --split train
 *
 * Computes each query's dense and lexical candidates once (depth from the index, k 100, exactly what
 * searchHybrid does), then evaluates weighted fusion (the index's normalization, or --normalization) for
 * w = 0, step, ..., 1 (--step, default 0.05) and RRF(60); prints nDCG@10 / MRR@10 /
 * R@100 per setting, the best weight by nDCG@10 (ties: the smaller weight), and the weight the one-standard-error
 * rule picks: the smallest weight whose nDCG@10 is within one standard error (of the per-query paired difference)
 * of the best. The smaller dense weight is the robust side: BM25 needs no training, while the dense model was
 * fine-tuned on one domain, and a train/dev split of that domain cannot show what the dense side is worth elsewhere
 * (docs/RESULTS.md, section 6: the dev-best weight put hybrid below lexical out of domain).
 */
import { createQueryModelEncoder } from "../encoder/query-model.ts";
import { choiceFlag, intFlag, numberFlag, parseFlags, runCommand, STDIO, UsageError, type CommandIO } from "../command.ts";
import { fuse, type CompleteScores, type Fusion, type Normalization } from "../../src/search/fusion.ts";
import { searchLexical } from "../../src/search/bm25.ts";
import { searchOptions } from "../../src/search/modes.ts";
import { denseFloor, type DocHit } from "../../src/search/dense.ts";
import { denseSearch } from "../../src/search/vector-index.ts";
import { createTokenizer } from "../../src/text/tokenizer/index.ts";
import { beirPaths, readQrels, readQueries } from "./beir.ts";
import { openIndex, type OpenIndex } from "./index-search.ts";
import { evaluate, type Evaluation, type Run } from "./metrics.ts";

export const TUNE_FUSION_USAGE = `usage: i3 tune-fusion --data <BEIR dir> --index <build dir> [options]
       i3 tune-fusion --pseudo --index <build dir> [--apply]   (no queries: see i3 tune-fusion --pseudo --help)

Tunes the hybrid fusion weight of a built index on a train/dev split and prints the \`i3 defaults\` line that applies it.

options:
  --split <name>                 qrels/<name>.tsv to tune on (default train; never test)
  --normalization tmm|minmax     weighted fusion to tune (default: the index's)
  --step <w>                     weight grid step, dividing 1 (default 0.05)
  --threads <n>                  onnxruntime intra-op threads
  --verbose                      stack traces on errors`;

interface TuneArgs {
  data: string;
  index: string;
  split: string;
  normalization?: Normalization;
  step: number;
  threads?: number;
}

/** One query's candidates from both sides, computed once for every fusion tried. */
interface Candidates {
  id: string;
  dense: DocHit[];
  lexical: DocHit[];
  all: CompleteScores;
}

/** Results per query and the candidate depth: what searchHybrid uses at the index's defaults. */
const K = 100;

/**
 * `i3 tune-fusion ...` (argv: the words after "tune-fusion").
 *
 * @example
 * process.exitCode = await runTuneFusionCommand(["--data", "data/scifact", "--index", "build/scifact", "--split", "train"]);
 */
export async function runTuneFusionCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  if (argv.includes("--pseudo")) return (await import("./pseudo-fusion.ts")).runPseudoFusionCommand(argv, io);
  return runCommand("tune-fusion", TUNE_FUSION_USAGE, argv, io, async () => {
    const a = parseTuneArgs(argv);
    const paths = beirPaths(a.data, a.split, { corpus: false });
    const qrels = await readQrels(paths.qrels);
    const queries = (await readQueries(paths.queries)).filter((q) => qrels.has(q.id));
    if (queries.length === 0) throw new Error(`${paths.queries}: no query has qrels in ${paths.qrels}`);
    const idx = await openIndex(a.index);
    if (!idx.lexical) throw new Error(`${a.index} has no lexical section (built with --no-lexical): nothing to fuse`);
    const normalization = a.normalization ?? idx.manifest.lexical!.fusion.normalization;
    const lists = await candidates(idx, a, queries);
    const evaluation = (f: Fusion | "dense" | "lexical") => evaluate(fusedRun(idx, lists, f), qrels, queries.map((q) => q.id));
    io.out(`${a.data} split ${a.split}: ${queries.length} queries; weighted fusion normalization ${normalization}; nDCG@10 MRR@10 R@100`);
    io.out(`dense        ${fmt(evaluation("dense"))}`);
    io.out(`lexical      ${fmt(evaluation("lexical"))}`);
    io.out(`rrf:60       ${fmt(evaluation({ mode: "rrf", k: 60 }))}`);
    const steps = Math.round(1 / a.step);
    const grid = Array.from({ length: steps + 1 }, (_, i) => i / steps);
    const evals = grid.map((w) => evaluation({ mode: "weighted", weight: w, normalization }));
    grid.forEach((w, i) => io.out(`weighted:${w.toFixed(2)} ${fmt(evals[i])}`));
    reportPick(io, a, grid, evals, normalization);
  });
}

function parseTuneArgs(argv: string[]): TuneArgs {
  const { values: v, positionals } = parseFlags(argv, {
    data: { type: "string" }, index: { type: "string" }, split: { type: "string" }, threads: { type: "string" },
    normalization: { type: "string" }, step: { type: "string" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (!v.data || !v.index) throw new UsageError("--data and --index are required");
  const split = v.split ?? "train";
  if (split === "test") throw new UsageError("tune on a train/dev split, never on test");
  const step = numberFlag("step", v.step ?? "0.05", 0, 0.5)!;
  if (!(step > 0 && Math.abs(Math.round(1 / step) * step - 1) < 1e-9)) throw new UsageError(`--step must divide 1 (0.05, 0.01, ...), got ${v.step}`);
  return {
    data: v.data, index: v.index, split, step,
    normalization: choiceFlag("normalization", v.normalization, ["tmm", "minmax"] as const),
    threads: intFlag("threads", v.threads),
  };
}

/**
 * Each query's dense and lexical candidates (depth from the index), with the dense scores of the lexical-only
 * candidates (all that tmm asks for) computed once per query instead of once per weight.
 */
async function candidates(idx: OpenIndex, a: TuneArgs, queries: Array<{ id: string; text: string }>): Promise<Candidates[]> {
  const m = idx.manifest;
  const n = Math.max(K, searchOptions(m.lexical).depth);
  const tokenizer = createTokenizer(JSON.parse(new TextDecoder().decode(await idx.build.readObject(m.model.vocab))));
  const enc = await createQueryModelEncoder({ modelPath: idx.build.objectFile(m.model.query), maxLen: m.model.maxQueryTokens, intraOpThreads: a.threads });
  const lists: Candidates[] = [];
  try {
    for (const q of queries) {
      const dense = await denseSearch(await enc.encode([tokenizer.encode(q.text)]), idx.vectors, n, idx.live);
      const lex = await searchLexical(idx.lexical!, q.text, n, { filter: idx.live });
      const inDense = new Set(dense.hits.map((h) => h.ordinal));
      const lexicalOnly = dense.scores(lex.hits.filter((h) => !inDense.has(h.ordinal)).map((h) => h.ordinal));
      lists.push({ id: q.id, dense: dense.hits, lexical: lex.hits, all: { dense: () => lexicalOnly, lexical: lex.score, denseFloor: denseFloor(m) } });
    }
  } finally {
    await enc.close();
  }
  return lists;
}

/** The top K of one side, or of the two fused (what searchHybrid hands back). */
function fusedRun(idx: OpenIndex, lists: Candidates[], f: Fusion | "dense" | "lexical"): Run {
  const run: Run = new Map();
  for (const l of lists) {
    const hits = f === "dense" ? l.dense : f === "lexical" ? l.lexical : fuse(l.dense, l.lexical, f, l.all);
    run.set(l.id, hits.slice(0, K).map((h) => ({ id: idx.ids[h.ordinal], score: h.score })));
  }
  return run;
}

const fmt = (e: Evaluation) => `${e.mean["nDCG@10"].toFixed(4)}  ${e.mean["MRR@10"].toFixed(4)}  ${e.mean["R@100"].toFixed(4)}`;

/** The best weight by nDCG@10 (ties: the smaller), the one-standard-error pick, and the command that applies it. */
function reportPick(io: CommandIO, a: TuneArgs, grid: number[], evals: Evaluation[], normalization: Normalization): void {
  let best = 0;
  evals.forEach((e, i) => {
    if (e.mean["nDCG@10"] > evals[best].mean["nDCG@10"] + 1e-12) best = i;
  });
  io.out(`best weight by nDCG@10 on ${a.split}: ${grid[best]} (${evals[best].mean["nDCG@10"].toFixed(4)})`);
  const oneSe = oneStandardError(evals.map((e) => e.perQuery), best);
  io.out(`one-standard-error rule: weight ${grid[oneSe.index]} (${evals[oneSe.index].mean["nDCG@10"].toFixed(4)}; ` +
    `${(evals[best].mean["nDCG@10"] - evals[oneSe.index].mean["nDCG@10"]).toFixed(4)} below the best, standard error ${oneSe.se.toFixed(4)})`);
  io.out(`apply it: npm run i3 -- defaults ${a.index} --fusion weighted --fusion-weight ${grid[oneSe.index]} --fusion-normalization ${normalization}` +
    " (then publish), or pass it per request");
}

/** Smallest grid index whose mean per-query nDCG@10 deficit to `best` is at most one standard error of it. */
function oneStandardError(perQuery: Array<Map<string, { "nDCG@10": number }>>, best: number): { index: number; se: number } {
  const ids = [...perQuery[best].keys()];
  for (let i = 0; i <= best; i++) {
    const d = ids.map((q) => perQuery[best].get(q)!["nDCG@10"] - perQuery[i].get(q)!["nDCG@10"]);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, d.length - 1));
    const se = sd / Math.sqrt(d.length);
    if (mean <= se) return { index: i, se };
  }
  return { index: best, se: 0 };
}
