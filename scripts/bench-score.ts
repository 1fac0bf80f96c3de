/**
 * Scoring and fusion alone, in process: the worker's search code (src/search: IVF or flat dense side, BM25, fusion)
 * over a built index opened from disk, with the query vectors encoded beforehand, so no encoding and no I/O is timed
 * (partitions and BM25 buckets are loaded by a first pass). Prints one JSON line.
 *
 *   npx tsx scripts/bench-score.ts --index build/scale-clustered-100000 --queries <queries.jsonl> [--n 200] [--mode hybrid] [--repeat 1]
 *
 * `--hits <file>`: writes each query's top 10 of the first pass (ordinal and score, one JSON line a query), to compare
 * the rankings of two versions of the code.
 *
 * `--repeat r`: the timed pass r times (the percentiles over all r * n queries; `p50sMs`, `p99sMs`: each pass's), for a
 * noisy machine and for profiles in which the timed queries outweigh the first pass.
 *
 * `--filter-selectivity 0.5,0.01,0.0001`: one line per selectivity, each query filtered by `{"bucket": {"$lt": t}}`
 * over a synthetic int column (uniform values, seeded) whose threshold matches that share of the documents; the
 * columns go through src/format and the filter through src/search/filter.ts (`compileMs`: the bitset, per filter).
 * A partitioned index gets the documents of each partition from its partitions, as `i3 build --fields` writes them.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createNodeEncoder } from "../offline/encoder/node-encoder.ts";
import { openIndex } from "../offline/eval/index-search.ts";
import { searchLexical, type LexicalResult } from "../src/search/bm25.ts";
import { denseFloor } from "../src/search/dense.ts";
import { searchHybrid, searchOptions, type SearchMode } from "../src/search/modes.ts";
import { denseSearch } from "../src/search/vector-index.ts";
import { createTokenizer } from "../src/text/tokenizer/index.ts";
import { decodeFieldColumns, encodeFieldColumns, type PartitionDocs } from "../src/format/index.ts";
import { matchDocuments, parseFilter, type DocFilter } from "../src/search/filter.ts";
import { rng } from "../src/random.ts";

const { values: o } = parseArgs({ options: {
  index: { type: "string" }, queries: { type: "string" }, n: { type: "string", default: "200" }, mode: { type: "string", default: "hybrid" },
  repeat: { type: "string", default: "1" },
  hits: { type: "string" },
  "filter-selectivity": { type: "string" },
} });
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
// An updated version's deleted documents are left out, as the worker leaves them out.
let filter: DocFilter | undefined = idx.live;
let scanned = 0;
const postings = { total: 0, read: 0, queries: 0 }; // BM25 postings of the query terms' lists, and those read (MaxScore)
const once = async (i: number) => {
  let lex: LexicalResult | undefined;
  const r = await searchHybrid({
    mode, k: 10, depth, fusion, denseFloor: denseFloor(m),
    dense: async (n) => {
      const r = await denseSearch(vectors[i], idx.vectors, n, filter);
      scanned += (r as { probed?: number[] }).probed?.length ?? 0;
      return r;
    },
    lexical: idx.lexical ? async (n) => (lex = await searchLexical(idx.lexical!, texts[i], n, { filter })) : undefined,
  });
  if (lex) { // read once fused: score() of the documents MaxScore left out counts too
    postings.total += lex.postings.total;
    postings.read += lex.postings.read;
    postings.queries++;
  }
  return r;
};
const firstHits: string[] = [];
for (let i = 0; i < texts.length; i++) { // load every partition and bucket the queries touch
  const r = await once(i);
  firstHits.push(JSON.stringify(r.hits.map((h) => [h.ordinal, h.score])));
}
if (o.hits) writeFileSync(o.hits, firstHits.join("\n") + "\n");

const repeat = Number(o.repeat);
if (!Number.isInteger(repeat) || repeat < 1) {
  console.error(`--repeat must be a positive integer, got ${JSON.stringify(o.repeat)}`);
  process.exit(2);
}
const percentile = (sorted: number[], p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 1000) / 1000;

/** p50 and p99 of `repeat` passes of `texts.length` timed queries (after the warm-up pass above). */
async function timed(): Promise<{
  p50Ms: number; p99Ms: number; p50sMs?: number[]; p99sMs?: number[]; partitionsScanned: number; postingsPerQuery?: number; postingsReadPerQuery?: number;
}> {
  const times: number[] = [];
  const p50s: number[] = [], p99s: number[] = [];
  scanned = 0;
  Object.assign(postings, { total: 0, read: 0, queries: 0 });
  for (let r = 0; r < repeat; r++) {
    const pass: number[] = [];
    for (let i = 0; i < texts.length; i++) {
      const t0 = performance.now();
      await once(i);
      pass.push(performance.now() - t0);
    }
    times.push(...pass);
    p50s.push(percentile(pass.sort((a, b) => a - b), 50));
    p99s.push(percentile(pass, 99));
  }
  times.sort((a, b) => a - b);
  const passes = repeat > 1 ? { p50sMs: p50s, p99sMs: p99s } : {};
  const lexical = postings.queries > 0 ? { postingsPerQuery: Math.round(postings.total / postings.queries), postingsReadPerQuery: Math.round(postings.read / postings.queries) } : {};
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), ...passes, partitionsScanned: Math.round((10 * scanned) / times.length) / 10, ...lexical };
}

const base = { index: o.index, passages: m.corpus.passages, partitions: m.partitions.length, probe: m.search.probe ?? null, mode, queries: texts.length };
if (!o["filter-selectivity"]) {
  const { partitionsScanned: _, ...t } = await timed();
  console.log(JSON.stringify({ ...base, ...t }));
} else {
  if (m.delta || m.tombstones) {
    console.error(`--filter-selectivity: ${o.index} is an incrementally updated version (its synthetic filter covers a base only): compact it first`);
    process.exit(2);
  }
  const N = m.corpus.documents;
  const r = rng(7);
  const columns = decodeFieldColumns(encodeFieldColumns([{ name: "bucket", type: "int" }], Array.from({ length: N }, () => [Math.floor(r() * 1_000_000)])));
  if (idx.vectors.kind === "ivf") {
    const src = idx.vectors.source;
    const lists: number[][] = [];
    for (let p = 0; p < src.partitions; p++) {
      const [part] = await src.load([p]);
      lists.push([...new Set(part.ordinals)]);
      src.release?.([p]);
    }
    const offsets = new Uint32Array(lists.length + 1);
    lists.forEach((l, p) => (offsets[p + 1] = offsets[p] + l.length));
    const pd: PartitionDocs = { documents: N, offsets, docs: Uint32Array.from(lists.flat()) };
    src.partitionDocs = async () => pd;
  }
  for (const s of o["filter-selectivity"].split(",").map(Number)) {
    const node = parseFilter({ bucket: { $lt: Math.round(s * 1_000_000) } }, [{ name: "bucket", type: "int" }]);
    const c0 = performance.now();
    filter = matchDocuments(node, columns);
    const compileMs = Math.round((performance.now() - c0) * 1000) / 1000;
    for (let i = 0; i < texts.length; i++) await once(i); // partitions a wider scan needs
    console.log(JSON.stringify({ ...base, selectivity: s, matching: filter.count, compileMs, ...(await timed()) }));
  }
}
