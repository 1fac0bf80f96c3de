/**
 * Scoring and fusion alone, in process: the worker's search code (src/search: IVF or flat dense side, BM25, fusion)
 * over a built index opened from disk, with the query vectors encoded beforehand, so no encoding and no I/O is timed
 * (partitions and BM25 buckets are loaded by a first pass). Prints one JSON line.
 *
 *   npx tsx scripts/bench-score.ts --index build/scale-clustered-100000 --queries <queries.jsonl> [--n 200] [--mode hybrid]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createNodeEncoder } from "../offline/encoder/node-encoder.ts";
import { openIndex } from "../offline/eval/index-search.ts";
import { searchLexical } from "../src/search/bm25.ts";
import { denseFloor } from "../src/search/dense.ts";
import { searchHybrid, searchOptions, type SearchMode } from "../src/search/modes.ts";
import { denseSearch } from "../src/search/vector-index.ts";
import { createTokenizer } from "../src/text/tokenizer/index.ts";

const { values: o } = parseArgs({ options: { index: { type: "string" }, queries: { type: "string" }, n: { type: "string", default: "200" }, mode: { type: "string", default: "hybrid" } } });
if (!o.index || !o.queries) {
  console.error("usage: npx tsx scripts/bench-score.ts --index <build dir> --queries <queries.jsonl> [--n 200] [--mode hybrid]");
  process.exit(2);
}
const texts = readFileSync(o.queries, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).text as string).slice(0, Number(o.n));
const idx = await openIndex(o.index);
const m = idx.manifest;
const tok = createTokenizer(JSON.parse(new TextDecoder().decode(await idx.build.readObject(m.model.vocab))));
const enc = await createNodeEncoder({ modelPath: idx.build.objectFile(m.model.query), device: "cpu", maxLen: m.model.maxQueryTokens, log: () => {} });
const vectors: Float32Array[] = [];
for (const t of texts) vectors.push(await enc.encode([tok.encode(t)]));
await enc.close();
const { fusion, depth } = searchOptions(m.lexical);
const mode = o.mode as SearchMode;
const once = (i: number) => searchHybrid({
  mode, k: 10, depth, fusion, denseFloor: denseFloor(m),
  dense: (n) => denseSearch(vectors[i], idx.vectors, n),
  lexical: idx.lexical ? (n) => searchLexical(idx.lexical!, texts[i], n) : undefined,
});
for (let i = 0; i < texts.length; i++) await once(i); // load every partition and bucket the queries touch
const times: number[] = [];
for (let i = 0; i < texts.length; i++) {
  const t0 = performance.now();
  await once(i);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const pct = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] * 1000) / 1000;
console.log(JSON.stringify({ index: o.index, passages: m.corpus.passages, partitions: m.partitions.length, probe: m.search.probe ?? null, mode, queries: times.length, p50Ms: pct(50), p99Ms: pct(99) }));
