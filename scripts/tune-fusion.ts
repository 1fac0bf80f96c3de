/**
 * Tunes the hybrid fusion weight of a built index on a TRAIN split (never on test):
 *
 *   npx tsx scripts/tune-fusion.ts --data /work/shared/data/scifact --index build/scifact-lex --split train
 *
 * Computes each query's dense and lexical candidates once (depth from the index, k 100, exactly what
 * searchHybrid does), then evaluates weighted fusion for w = 0, 0.05, ..., 1 and RRF(60); prints nDCG@10 / MRR@10 /
 * R@100 per setting, the best weight by nDCG@10 (ties: the smaller weight), and the weight the one-standard-error
 * rule picks: the smallest weight whose nDCG@10 is within one standard error (of the per-query paired difference)
 * of the best. The smaller dense weight is the robust side: BM25 needs no training, while the dense model was
 * fine-tuned on one domain, and a train/dev split of that domain cannot show what the dense side is worth elsewhere
 * (docs/RESULTS.md, section 6: the dev-best weight put hybrid below lexical out of domain).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createNodeEncoder } from "../offline/encoder/node-encoder.ts";
import { fuse, type Fusion } from "../src/search/fusion.ts";
import { searchLexical } from "../src/search/lexical.ts";
import { searchShards, type DocHit } from "../src/search/search.ts";
import { createTokenizer } from "../src/tokenizer/index.ts";
import { beirPaths, readQrels, readQueries } from "./eval/beir.ts";
import { indexDefaults, openIndex } from "./eval/index-search.ts";
import { evaluate, type Run } from "./eval/metrics.ts";

const { values: v } = parseArgs({ options: { data: { type: "string" }, index: { type: "string" }, split: { type: "string", default: "train" }, threads: { type: "string" } } });
if (!v.data || !v.index) throw new Error("usage: tune-fusion --data <BEIR dir> --index <build dir> [--split train]");
if (v.split === "test") throw new Error("tune on a train/dev split, never on test");
const paths = beirPaths(v.data, v.split, { corpus: false });
const qrels = await readQrels(paths.qrels);
const queries = (await readQueries(paths.queries)).filter((q) => qrels.has(q.id));
const idx = openIndex(v.index);
if (!idx.lexical) throw new Error(`${v.index} has no lexical section`);
const m = idx.manifest;
const { depth } = indexDefaults(m);
const k = 100;
const n = Math.max(k, depth);
const tokenizer = createTokenizer(JSON.parse(readFileSync(join(v.index, m.model.vocab.path), "utf8")));
const enc = await createNodeEncoder({ modelPath: join(v.index, m.model.query.path), device: "cpu", maxLen: m.model.maxQueryTokens, intraOpThreads: v.threads ? Number(v.threads) : undefined, log: () => {} });
const lists: Array<{ id: string; dense: DocHit[]; lexical: DocHit[] }> = [];
for (const q of queries) {
  const dense = searchShards(await enc.encode([tokenizer.encode(q.text)]), idx.shards, { k: n, rescore: m.search.rescore });
  lists.push({ id: q.id, dense, lexical: (await searchLexical(idx.lexical, q.text, n)).hits });
}
await enc.close();
const evaluation = (f: Fusion | "dense" | "lexical") => {
  const run: Run = new Map();
  for (const l of lists) {
    const hits = f === "dense" ? l.dense : f === "lexical" ? l.lexical : fuse(l.dense, l.lexical, f);
    run.set(l.id, hits.slice(0, k).map((h) => ({ id: idx.ids[h.ordinal], score: h.score })));
  }
  return evaluate(run, qrels, queries.map((q) => q.id));
};
const score = (f: Fusion | "dense" | "lexical") => evaluation(f).mean;
const fmt = (r: { "nDCG@10": number; "MRR@10": number; "R@100": number }) => `${r["nDCG@10"].toFixed(4)}  ${r["MRR@10"].toFixed(4)}  ${r["R@100"].toFixed(4)}`;
console.log(`${v.data} split ${v.split}: ${queries.length} queries; nDCG@10 MRR@10 R@100`);
console.log(`dense        ${fmt(score("dense"))}`);
console.log(`lexical      ${fmt(score("lexical"))}`);
console.log(`rrf:60       ${fmt(score({ mode: "rrf", k: 60 }))}`);
const grid = Array.from({ length: 21 }, (_, i) => i / 20);
const evals = grid.map((w) => evaluation({ mode: "weighted", weight: w }));
let best = 0;
grid.forEach((w, i) => {
  console.log(`weighted:${w.toFixed(2)} ${fmt(evals[i].mean)}`);
  if (evals[i].mean["nDCG@10"] > evals[best].mean["nDCG@10"] + 1e-12) best = i;
});
console.log(`best weight by nDCG@10 on ${v.split}: ${grid[best]} (${evals[best].mean["nDCG@10"].toFixed(4)})`);
const oneSe = oneStandardError(evals.map((e) => e.perQuery), best);
console.log(`one-standard-error rule: weight ${grid[oneSe.index]} (${evals[oneSe.index].mean["nDCG@10"].toFixed(4)}; ` +
  `${(evals[best].mean["nDCG@10"] - evals[oneSe.index].mean["nDCG@10"]).toFixed(4)} below the best, standard error ${oneSe.se.toFixed(4)})`);

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
