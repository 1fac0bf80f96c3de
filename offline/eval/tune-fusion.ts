/**
 * Tunes the hybrid fusion weight of a built index on a TRAIN split (never on test); prints the `i3 defaults` line
 * that applies the pick to the build:
 *
 *   npm run i3 -- tune-fusion --data /work/shared/data/scifact --index build/scifact-lex --split train
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
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createNodeEncoder } from "../encoder/node-encoder.ts";
import { fuse, type CompleteScores, type Fusion, type Normalization } from "../../src/search/fusion.ts";
import { searchLexical } from "../../src/search/bm25.ts";
import { searchOptions } from "../../src/search/modes.ts";
import { denseFloor, denseResult, type DocHit } from "../../src/search/dense.ts";
import { createTokenizer } from "../../src/text/tokenizer/index.ts";
import { beirPaths, readQrels, readQueries } from "./beir.ts";
import { openIndex } from "./index-search.ts";
import { evaluate, type Run } from "./metrics.ts";

const USAGE = `usage: npm run i3 -- tune-fusion --data <BEIR dir> --index <build dir> [options]

options:
  --split <name>                 qrels/<name>.tsv to tune on (default train; never test)
  --normalization tmm|minmax     weighted fusion to tune (default: the index's)
  --step <w>                     weight grid step, dividing 1 (default 0.05)
  --threads <n>                  onnxruntime intra-op threads`;

/** A bad command line: printed with the usage text, exit 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  let v: Record<string, string | undefined>;
  try {
    v = parseArgs({
      args: argv,
      options: {
        data: { type: "string" }, index: { type: "string" }, split: { type: "string", default: "train" }, threads: { type: "string" },
        normalization: { type: "string" }, step: { type: "string", default: "0.05" },
      },
    }).values as Record<string, string | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!v.data || !v.index) throw new UsageError("--data and --index are required");
  const split = v.split!;
  if (split === "test") throw new UsageError("tune on a train/dev split, never on test");
  const step = Number(v.step);
  if (!(step > 0 && step <= 0.5 && Math.abs(Math.round(1 / step) * step - 1) < 1e-9)) throw new UsageError(`--step must divide 1 (0.05, 0.01, ...), got ${v.step}`);
  if (v.normalization !== undefined && v.normalization !== "tmm" && v.normalization !== "minmax") throw new UsageError(`--normalization must be tmm or minmax, got ${v.normalization}`);
  const threads = v.threads === undefined ? undefined : Number(v.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new UsageError(`--threads must be an integer >= 1, got ${v.threads}`);
  const paths = beirPaths(v.data, split, { corpus: false });
  const qrels = await readQrels(paths.qrels);
  const queries = (await readQueries(paths.queries)).filter((q) => qrels.has(q.id));
  if (queries.length === 0) throw new Error(`${paths.queries}: no query has qrels in ${paths.qrels}`);
  const idx = openIndex(v.index);
  if (!idx.lexical) throw new Error(`${v.index} has no lexical section (built with --no-lexical): nothing to fuse`);
  const m = idx.manifest;
  const { depth } = searchOptions(m.lexical);
  const k = 100;
  const n = Math.max(k, depth);
  const tokenizer = createTokenizer(JSON.parse(readFileSync(join(v.index, m.model.vocab.path), "utf8")));
  const enc = await createNodeEncoder({ modelPath: join(v.index, m.model.query.path), device: "cpu", maxLen: m.model.maxQueryTokens, intraOpThreads: threads, log: () => {} });
  const normalization: Normalization = (v.normalization as Normalization | undefined) ?? m.lexical!.fusion.normalization;
  const lists: Array<{ id: string; dense: DocHit[]; lexical: DocHit[]; all: CompleteScores }> = [];
  for (const q of queries) {
    const dense = denseResult(await enc.encode([tokenizer.encode(q.text)]), idx.shards, n, m.search.rescore);
    const lex = await searchLexical(idx.lexical, q.text, n);
    // What searchHybrid hands to fuse, with the dense scores of the lexical-only candidates (all that tmm asks for)
    // computed once per query instead of once per weight.
    const inDense = new Set(dense.hits.map((h) => h.ordinal));
    const lexicalOnly = dense.scores(lex.hits.filter((h) => !inDense.has(h.ordinal)).map((h) => h.ordinal));
    const all: CompleteScores = { dense: () => lexicalOnly, lexical: lex.score, denseFloor: denseFloor(m) };
    lists.push({ id: q.id, dense: dense.hits, lexical: lex.hits, all });
  }
  await enc.close();
  const evaluation = (f: Fusion | "dense" | "lexical") => {
    const run: Run = new Map();
    for (const l of lists) {
      const hits = f === "dense" ? l.dense : f === "lexical" ? l.lexical : fuse(l.dense, l.lexical, f, l.all);
      run.set(l.id, hits.slice(0, k).map((h) => ({ id: idx.ids[h.ordinal], score: h.score })));
    }
    return evaluate(run, qrels, queries.map((q) => q.id));
  };
  const score = (f: Fusion | "dense" | "lexical") => evaluation(f).mean;
  const fmt = (r: { "nDCG@10": number; "MRR@10": number; "R@100": number }) => `${r["nDCG@10"].toFixed(4)}  ${r["MRR@10"].toFixed(4)}  ${r["R@100"].toFixed(4)}`;
  console.log(`${v.data} split ${split}: ${queries.length} queries; weighted fusion normalization ${normalization}; nDCG@10 MRR@10 R@100`);
  console.log(`dense        ${fmt(score("dense"))}`);
  console.log(`lexical      ${fmt(score("lexical"))}`);
  console.log(`rrf:60       ${fmt(score({ mode: "rrf", k: 60 }))}`);
  const steps = Math.round(1 / step);
  const grid = Array.from({ length: steps + 1 }, (_, i) => i / steps);
  const evals = grid.map((w) => evaluation({ mode: "weighted", weight: w, normalization }));
  let best = 0;
  grid.forEach((w, i) => {
    console.log(`weighted:${w.toFixed(2)} ${fmt(evals[i].mean)}`);
    if (evals[i].mean["nDCG@10"] > evals[best].mean["nDCG@10"] + 1e-12) best = i;
  });
  console.log(`best weight by nDCG@10 on ${split}: ${grid[best]} (${evals[best].mean["nDCG@10"].toFixed(4)})`);
  const oneSe = oneStandardError(evals.map((e) => e.perQuery), best);
  console.log(`one-standard-error rule: weight ${grid[oneSe.index]} (${evals[oneSe.index].mean["nDCG@10"].toFixed(4)}; ` +
    `${(evals[best].mean["nDCG@10"] - evals[oneSe.index].mean["nDCG@10"]).toFixed(4)} below the best, standard error ${oneSe.se.toFixed(4)})`);
  const w = grid[oneSe.index];
  console.log(`apply it: npm run i3 -- defaults ${v.index} --fusion weighted --fusion-weight ${w} --fusion-normalization ${normalization}` +
    " (then publish), or pass it per request");
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof UsageError) {
    console.error(`tune-fusion: ${e.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`tune-fusion: ${(e as Error).message}`);
    process.exitCode = 1;
  }
});

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
