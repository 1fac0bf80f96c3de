// BM25 over the partitioned inverted index (src/format/bm25.ts). Pure: the caller passes the bucket and
// norm loaders (R2 + isolate cache in the worker, files in Node), so the worker and `npm run eval --index`
// rank with exactly this code.
import { bucketOf, byteToLength, forEachPosting, type LexicalBucket, type LexicalSection } from "../format";
import { queryTerms } from "../text/analyzer";
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
  /** Distinct analyzed query terms, and how many of them occur in the index. */
  terms: number;
  matched: number;
}

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

/**
 * Top `depth` documents by BM25 for `query`: each distinct query term once, score = sum of
 * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)). Only the buckets of the query's terms are loaded.
 * Ties: lower doc ordinal first. A query with no indexed term gives no hits (never an error). With a `filter`, the
 * postings of other documents are skipped (idf and lengths stay those of the whole index).
 *
 * @example
 * const { hits } = await searchLexical(reader, "vitamin d bone density", 100);
 */
export async function searchLexical(reader: LexicalReader, query: string, depth: number, filter?: DocFilter): Promise<LexicalResult> {
  const s = reader.section;
  const terms = queryTerms(query);
  const B = s.buckets.length;
  const byBucket = new Map<number, string[]>();
  for (const t of terms) {
    const b = bucketOf(t, B);
    byBucket.set(b, [...(byBucket.get(b) ?? []), t]);
  }
  const buckets = await Promise.all([...byBucket.keys()].map((b) => reader.bucket(b)));
  const found: Array<{ bucket: LexicalBucket; term: string }> = [];
  for (const bucket of buckets) {
    for (const term of byBucket.get(bucket.id) ?? []) if (bucket.terms.has(term)) found.push({ bucket, term });
  }
  if (found.length === 0) return { hits: [], score: () => 0, terms: terms.length, matched: 0 };

  const norms = await reader.norms();
  const table = normTable(s);
  const k1p1 = s.bm25.k1 + 1;
  // Scores in a dense array by ordinal (4 bytes a document, allocated per query: cheaper than a hash map at every
  // size this reads), and the ordinals touched, in first-touch order.
  const acc = new Float64Array(s.documents);
  const touched = new Uint32Array(Math.min(s.documents, found.reduce((n, f) => n + f.bucket.terms.get(f.term)!.df, 0)));
  let nTouched = 0;
  for (const { bucket, term } of found) {
    const t = bucket.terms.get(term)!;
    const idf = bm25Idf(s.documents, t.df);
    forEachPosting(bucket, t, (doc, tf) => {
      if (filter && !filter.has(doc)) return; // a document the filter rejects is never scored
      if (acc[doc] === 0) touched[nTouched++] = doc;
      acc[doc] += (idf * tf * k1p1) / (tf + table[norms[doc]]);
    });
  }
  const top = createTopK(depth);
  for (let i = 0; i < nTouched; i++) top.push(touched[i], acc[touched[i]]);
  return {
    hits: top.sorted().map(({ id, score }) => ({ ordinal: id, score })),
    score: (ordinal) => acc[ordinal] ?? 0,
    terms: terms.length,
    matched: found.length,
  };
}
