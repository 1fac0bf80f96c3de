// BM25 over the partitioned inverted index (src/format/bm25.ts). Pure: the caller passes the bucket and
// norm loaders (R2 + isolate cache in the worker, files in Node), so the worker and `npm run eval --index`
// rank with exactly this code.
import { bucketOf, byteToLength, forEachPosting, type LexicalBucket, type LexicalSection } from "../format";
import { queryTermCounts } from "../text/analyzer";
import type { DocHit } from "./dense";
import type { DocFilter } from "./filter";
import { createTopK } from "./topk";

/** Access to the lexical objects of one index version. */
export interface LexicalReader {
  section: LexicalSection;
  /** Decoded bucket `id` (0 <= id < section.buckets.length). */
  bucket(id: number): Promise<LexicalBucket>;
  /** One Lucene byte4 length per document. */
  norms(): Promise<Uint8Array>;
}

export interface LexicalResult {
  hits: DocHit[];
  /** BM25 of any document for this query (0 when it contains no query term), beyond the top `depth` too. */
  score(ordinal: number): number;
  /** Distinct analyzed query terms. */
  terms: number;
  /** Terms that scored: in the index and kept. */
  matched: number;
  /** Terms left out by the caps (MAX_QUERY_BUCKETS, MAX_QUERY_TERMS); terms - matched - dropped are not in the index. */
  dropped: number;
}

/**
 * Distinct terms one query scores at most: the highest-idf ones the index has (a pasted document has hundreds; its
 * rarest words say most about it, and the common ones have the longest posting lists). Bounds a query's scoring work.
 */
export const MAX_QUERY_TERMS = 64;

/**
 * Buckets one query reads at most (each an object read when not cached, about 32 KB): the terms looked up are taken
 * by query count, then first seen, while their buckets fit. Small indexes have fewer buckets, so every term is looked up.
 */
export const MAX_QUERY_BUCKETS = 64;

/** Lucene's BM25 idf: ln(1 + (N - df + 0.5) / (df + 0.5)). */
export function bm25Idf(documents: number, df: number): number {
  return Math.log(1 + (documents - df + 0.5) / (df + 0.5));
}

/** k1 * (1 - b + b * len / avgdl) for each of the 256 length bytes (Lucene precomputes the same table). */
export function normTable(s: LexicalSection): Float64Array {
  const t = new Float64Array(256);
  const avg = s.avgDocLength > 0 ? s.avgDocLength : 1;
  for (let i = 0; i < 256; i++) t[i] = s.bm25.k1 * (1 - s.bm25.b + (s.bm25.b * byteToLength(i)) / avg);
  return t;
}

/** A query term found in the index: where its postings are, its weight (count * idf) and its rank in the query. */
interface FoundTerm {
  bucket: LexicalBucket;
  term: string;
  count: number;
  idf: number;
  seen: number;
}

/** The terms to look up: by count, then first seen, while their buckets fit `maxBuckets`; the buckets they need. */
function termsToLookUp(counts: Map<string, number>, B: number, maxBuckets: number): Map<number, string[]> {
  const order = [...counts.keys()].map((term, seen) => ({ term, seen, count: counts.get(term)! }));
  order.sort((a, b) => b.count - a.count || a.seen - b.seen);
  const byBucket = new Map<number, string[]>();
  for (const { term } of order) {
    const b = bucketOf(term, B);
    const list = byBucket.get(b);
    if (list) list.push(term);
    else if (byBucket.size < maxBuckets) byBucket.set(b, [term]);
  }
  return byBucket;
}

/** The `max` found terms of highest idf (ties: more frequent in the query, then first seen), in first-seen order. */
function highestIdf(found: FoundTerm[], max: number): FoundTerm[] {
  if (found.length <= max) return found.sort((a, b) => a.seen - b.seen);
  return found
    .sort((a, b) => b.idf - a.idf || b.count - a.count || a.seen - b.seen)
    .slice(0, max)
    .sort((a, b) => a.seen - b.seen);
}

/**
 * Top `depth` documents by BM25 for `query`: score = sum over its distinct terms of
 * count * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)), count being the term's occurrences in the
 * query (as Lucene sums duplicate clauses). At most MAX_QUERY_TERMS terms score (the highest-idf ones), looked up
 * in at most MAX_QUERY_BUCKETS buckets: only those are loaded. Ties: lower doc ordinal first. A query with no
 * indexed term gives no hits (never an error). With a `filter`, the postings of other documents are skipped (idf
 * and lengths stay those of the whole index).
 *
 * @example
 * const { hits } = await searchLexical(reader, "vitamin d bone density", 100);
 */
export async function searchLexical(
  reader: LexicalReader, query: string, depth: number,
  opts: { filter?: DocFilter; caps?: { terms: number; buckets: number } } = {},
): Promise<LexicalResult> {
  const { filter, caps = { terms: MAX_QUERY_TERMS, buckets: MAX_QUERY_BUCKETS } } = opts;
  const s = reader.section;
  const counts = queryTermCounts(query);
  const seen = new Map([...counts.keys()].map((t, i) => [t, i]));
  const byBucket = termsToLookUp(counts, s.buckets.length, caps.buckets);
  const buckets = await Promise.all([...byBucket.keys()].map((b) => reader.bucket(b)));
  const all: FoundTerm[] = [];
  let lookedUp = 0;
  for (const bucket of buckets) {
    for (const term of byBucket.get(bucket.id) ?? []) {
      lookedUp++;
      const t = bucket.terms.get(term);
      if (t) all.push({ bucket, term, count: counts.get(term)!, idf: bm25Idf(s.documents, t.df), seen: seen.get(term)! });
    }
  }
  const found = highestIdf(all, caps.terms);
  const info = { terms: counts.size, matched: found.length, dropped: counts.size - lookedUp + all.length - found.length };
  if (found.length === 0) return { hits: [], score: () => 0, ...info };

  const norms = await reader.norms();
  const table = normTable(s);
  const k1p1 = s.bm25.k1 + 1;
  // Scores in a dense array by ordinal (4 bytes a document, allocated per query: cheaper than a hash map at every
  // size this reads), and the ordinals touched, in first-touch order.
  const acc = new Float64Array(s.documents);
  const touched = new Uint32Array(Math.min(s.documents, found.reduce((n, f) => n + f.bucket.terms.get(f.term)!.df, 0)));
  let nTouched = 0;
  for (const { bucket, term, count, idf } of found) {
    const w = count * idf;
    forEachPosting(bucket, bucket.terms.get(term)!, (doc, tf) => {
      if (filter && !filter.has(doc)) return; // a document the filter rejects is never scored
      if (acc[doc] === 0) touched[nTouched++] = doc;
      acc[doc] += (w * tf * k1p1) / (tf + table[norms[doc]]);
    });
  }
  const top = createTopK(depth);
  for (let i = 0; i < nTouched; i++) top.push(touched[i], acc[touched[i]]);
  return {
    hits: top.sorted().map(({ id, score }) => ({ ordinal: id, score })),
    score: (ordinal) => acc[ordinal] ?? 0,
    ...info,
  };
}
