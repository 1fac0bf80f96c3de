/**
 * The worst case of a long query, in process: BM25 (and hybrid fusion) of pasted documents with hundreds of distinct
 * terms over a built index, with the term cap (src/search/bm25.ts MAX_QUERY_TERMS, MAX_QUERY_BUCKETS) and without it.
 * Buckets are decoded once and kept, as the worker's isolate cache keeps them; the dense side uses a fixed random
 * unit vector (no encoder is timed). Prints one JSON line.
 *
 *   npx tsx scripts/bench-long-query.ts --index <build dir> [--chars 16384] [--n 20]
 */
import { parseArgs } from "node:util";
import { openIndex } from "../offline/eval/index-search.ts";
import { decodeDocBlock, type LexicalBucket } from "../src/format/index.ts";
import { searchLexical, type LexicalReader } from "../src/search/bm25.ts";
import { denseFloor } from "../src/search/dense.ts";
import { searchHybrid, searchOptions } from "../src/search/modes.ts";
import { denseSearch } from "../src/search/vector-index.ts";
import { queryTerms } from "../src/text/analyzer.ts";

const { values: o } = parseArgs({ options: { index: { type: "string" }, chars: { type: "string", default: "16384" }, n: { type: "string", default: "20" } } });
if (!o.index) {
  console.error("usage: npx tsx scripts/bench-long-query.ts --index <build dir> [--chars 16384] [--n 20]");
  process.exit(2);
}
const idx = await openIndex(o.index);
const m = idx.manifest;
if (!idx.lexical) throw new Error(`${o.index} has no lexical section`);
const base = idx.lexical;
const buckets = new Map<number, LexicalBucket>();
const norms = await base.norms();
const reader: LexicalReader = {
  section: base.section,
  bucket: async (id) => buckets.get(id) ?? buckets.set(id, await base.bucket(id)).get(id)!,
  norms: async () => norms,
  delta: base.delta,
};
// Queries: runs of consecutive documents pasted together, cut to --chars.
const docs: Array<{ text: string }> = [];
for (const b of m.docs.blocks.slice(0, 2)) docs.push(...decodeDocBlock(await idx.build.readObject(b)));
const n = Number(o.n);
const queries = Array.from({ length: n }, (_, i) => docs.slice(i * 10, i * 10 + 40).map((d) => d.text).join(" ").slice(0, Number(o.chars)));
const dims = m.vectors.dim;
const vector = Float32Array.from({ length: dims }, (_, i) => Math.sin(i + 1));
const norm = Math.hypot(...vector);
for (let i = 0; i < dims; i++) vector[i] /= norm;
const { fusion, depth } = searchOptions(m.lexical);
const uncapped = { terms: 1e9, buckets: 1e9 };

async function time(run: (q: string) => Promise<unknown>): Promise<{ p50Ms: number; maxMs: number }> {
  for (const q of queries) await run(q); // load every bucket first
  const t: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    await run(q);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50Ms: r(t[Math.floor(t.length / 2)]), maxMs: r(t[t.length - 1]) };
}
const hybrid = (caps?: typeof uncapped) => (q: string) => searchHybrid({
  mode: "hybrid", k: 100, depth, fusion, denseFloor: denseFloor(m),
  dense: (k) => denseSearch(vector, idx.vectors, k, idx.live),
  lexical: (k) => searchLexical(reader, q, k, { caps, filter: idx.live }),
});
const terms = queries.map((q) => queryTerms(q).length).sort((a, b) => a - b);
console.log(JSON.stringify({
  index: o.index, documents: m.corpus.documents, queries: n, chars: Number(o.chars), distinctTerms: { min: terms[0], max: terms.at(-1) },
  lexicalCapped: await time((q) => searchLexical(reader, q, 100, { filter: idx.live })),
  lexicalUncapped: await time((q) => searchLexical(reader, q, 100, { caps: uncapped, filter: idx.live })),
  hybridCapped: await time(hybrid()),
  hybridUncapped: await time(hybrid(uncapped)),
}));
