/**
 * Tunes the hybrid fusion weight of a built index on a TRAIN split (never on test):
 *
 *   npx tsx scripts/tune-fusion.ts --data /work/shared/data/scifact --index build/scifact-lex --split train
 *
 * Computes each query's dense and lexical candidates once (depth from the index, k 100, exactly what
 * searchHybrid does), then evaluates weighted fusion for w = 0, 0.05, ..., 1 and RRF(60); prints nDCG@10 / MRR@10 /
 * R@100 per setting and the best weight by nDCG@10 (ties: the smaller weight).
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
const score = (f: Fusion | "dense" | "lexical") => {
  const run: Run = new Map();
  for (const l of lists) {
    const hits = f === "dense" ? l.dense : f === "lexical" ? l.lexical : fuse(l.dense, l.lexical, f);
    run.set(l.id, hits.slice(0, k).map((h) => ({ id: idx.ids[h.ordinal], score: h.score })));
  }
  return evaluate(run, qrels, queries.map((q) => q.id)).mean;
};
const fmt = (r: { "nDCG@10": number; "MRR@10": number; "R@100": number }) => `${r["nDCG@10"].toFixed(4)}  ${r["MRR@10"].toFixed(4)}  ${r["R@100"].toFixed(4)}`;
console.log(`${v.data} split ${v.split}: ${queries.length} queries; nDCG@10 MRR@10 R@100`);
console.log(`dense        ${fmt(score("dense"))}`);
console.log(`lexical      ${fmt(score("lexical"))}`);
console.log(`rrf:60       ${fmt(score({ mode: "rrf", k: 60 }))}`);
let best = { w: 0, ndcg: -1 };
for (let i = 0; i <= 20; i++) {
  const w = i / 20;
  const r = score({ mode: "weighted", weight: w });
  console.log(`weighted:${w.toFixed(2)} ${fmt(r)}`);
  if (r["nDCG@10"] > best.ndcg + 1e-12) best = { w, ndcg: r["nDCG@10"] };
}
console.log(`best weight by nDCG@10 on ${v.split}: ${best.w} (${best.ndcg.toFixed(4)})`);
