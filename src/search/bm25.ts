// BM25 over the partitioned inverted index (src/format/bm25.ts). Pure: the caller passes the bucket and
// norm loaders (R2 + isolate cache in the worker, files in Node), so the worker and `npm run eval --index`
// rank with exactly this code.
import { bucketOf, byteToLength, decodePostings, type DeltaLexical, type LexicalBucket, type LexicalSection, type LexicalTerm } from "../format";
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
  /** An updated version's delta: its own buckets and norms, over its own documents (version ordinal = first + local). */
  delta?: LexicalDelta;
}

/** The BM25 objects of a delta segment (src/format/delta-section.ts). */
export interface LexicalDelta {
  first: number;
  section: DeltaLexical;
  bucket(id: number): Promise<LexicalBucket>;
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
  /**
   * Hands the per-query score array back for the next query (its touched entries zeroed: no allocation and no
   * zeroing of a document-sized array per query). `score` must not be called after. Optional to call.
   */
  release(): void;
}

/**
 * The score array and the touched-documents list of a finished query, kept for the next one (the scores all zero),
 * and the arrays a term's postings are decoded into: one of each, the largest released, so an isolate holds at most
 * one of each the size of its largest index's documents (about 16 bytes a document in all).
 */
const spares: { scores?: Float64Array; touched?: Uint32Array; docs?: Uint32Array; tfs?: Uint32Array } = {};

/**
 * An array of at least `n` entries: the spare one when large enough (the scores: all zero; the touched list: written
 * before it is read), else a new one.
 */
function take<K extends keyof typeof spares>(which: K, n: number, make: (n: number) => NonNullable<(typeof spares)[K]>): NonNullable<(typeof spares)[K]> {
  const a = spares[which];
  if (a && a.length >= n) {
    spares[which] = undefined;
    return a as NonNullable<(typeof spares)[K]>;
  }
  return make(n);
}

/** Keeps `a` as the spare of its kind when it is the larger. */
function keep<K extends keyof typeof spares>(which: K, a: NonNullable<(typeof spares)[K]>): void {
  const s = spares[which];
  if (!s || s.length < a.length) spares[which] = a;
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
export function normTable(bm25: LexicalSection["bm25"], avgDocLength: number): Float64Array {
  const t = new Float64Array(256);
  const avg = avgDocLength > 0 ? avgDocLength : 1;
  for (let i = 0; i < 256; i++) t[i] = bm25.k1 * (1 - bm25.b + (bm25.b * byteToLength(i)) / avg);
  return t;
}

/**
 * The collection statistics a query is scored with: documents and mean length of the base and the delta together.
 * Replaced and deleted base documents still count until `i3 compact`, as deleted documents do in Lucene until its
 * segments merge: idf and length normalization move by at most the share of such documents.
 */
export function collectionStats(r: LexicalReader): { documents: number; avgDocLength: number } {
  const s = r.section;
  const d = r.delta?.section;
  const documents = s.documents + (d?.documents ?? 0);
  const length = s.avgDocLength * s.documents + (d ? d.avgDocLength * d.documents : 0);
  return { documents, avgDocLength: documents > 0 ? length / documents : 0 };
}

/** Where a term's postings are in one segment: its bucket, its entry, and the segment's first ordinal. */
interface Postings {
  bucket: LexicalBucket;
  entry: LexicalTerm;
  first: number;
  norms: "base" | "delta";
}

/** A query term found in the index: where its postings are, its weight (count * idf) and its rank in the query. */
interface FoundTerm {
  term: string;
  lists: Postings[];
  df: number;
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
  const delta = reader.delta;
  const counts = queryTermCounts(query);
  const seen = new Map([...counts.keys()].map((t, i) => [t, i]));
  const byBucket = termsToLookUp(counts, s.buckets.length, caps.buckets);
  const lookUp = [...byBucket.values()].flat();
  // The delta's buckets of the same terms (a delta is small: one or a few buckets).
  const deltaIds = delta ? [...new Set(lookUp.map((t) => bucketOf(t, delta.section.buckets.length)))] : [];
  const [buckets, deltaBuckets] = await Promise.all([
    Promise.all([...byBucket.keys()].map((b) => reader.bucket(b))),
    Promise.all(deltaIds.map((b) => delta!.bucket(b))),
  ]);
  const stats = collectionStats(reader);
  const deltaBucket = new Map(deltaBuckets.map((b) => [b.id, b]));
  const all: FoundTerm[] = [];
  for (const bucket of buckets) {
    for (const term of byBucket.get(bucket.id) ?? []) {
      const lists: Postings[] = [];
      const entry = bucket.terms.get(term);
      if (entry) lists.push({ bucket, entry, first: 0, norms: "base" });
      if (delta) {
        const db = deltaBucket.get(bucketOf(term, delta.section.buckets.length))!;
        const de = db.terms.get(term);
        if (de) lists.push({ bucket: db, entry: de, first: delta.first, norms: "delta" });
      }
      if (lists.length === 0) continue;
      const df = lists.reduce((n, l) => n + l.entry.df, 0);
      all.push({ term, lists, df, count: counts.get(term)!, idf: bm25Idf(stats.documents, df), seen: seen.get(term)! });
    }
  }
  const found = highestIdf(all, caps.terms);
  const info = { terms: counts.size, matched: found.length, dropped: counts.size - lookUp.length + all.length - found.length };
  if (found.length === 0) return { hits: [], score: () => 0, ...info, release: () => {} };

  const [norms, deltaNorms] = await Promise.all([reader.norms(), delta?.norms()]);
  const table = normTable(s.bm25, stats.avgDocLength);
  const k1p1 = s.bm25.k1 + 1;
  // Scores in a dense array by ordinal (4 bytes a document, allocated per query: cheaper than a hash map at every
  // size this reads), and the ordinals touched, in first-touch order.
  const acc = take("scores", stats.documents, (n) => new Float64Array(n)); // entries past stats.documents stay 0
  const touched = take("touched", Math.min(stats.documents, found.reduce((n, f) => n + f.df, 0)), (n) => new Uint32Array(n));
  let nTouched = 0;
  // A term's postings are decoded into these (kept for the next query, as the scores are), then scored in one loop.
  const longest = found.reduce((n, f) => Math.max(n, ...f.lists.map((l) => l.entry.df)), 0);
  const docs = take("docs", longest, (n) => new Uint32Array(n));
  const tfs = take("tfs", longest, (n) => new Uint32Array(n));
  for (const { lists, count, idf } of found) {
    const w = count * idf;
    for (const { bucket, entry, first, norms: which } of lists) {
      const lengths = which === "base" ? norms : deltaNorms!;
      decodePostings(bucket, entry, docs, tfs);
      for (let n = 0; n < entry.df; n++) {
        const local = docs[n], tf = tfs[n], doc = first + local;
        if (filter && !filter.has(doc)) continue; // a document the filter rejects is never scored
        if (acc[doc] === 0) touched[nTouched++] = doc;
        acc[doc] += (w * tf * k1p1) / (tf + table[lengths[local]]);
      }
    }
  }
  keep("docs", docs);
  keep("tfs", tfs);
  const top = createTopK(depth);
  for (let i = 0; i < nTouched; i++) top.push(touched[i], acc[touched[i]]);
  let released = false;
  return {
    hits: top.sorted().map(({ id, score }) => ({ ordinal: id, score })),
    score: (ordinal) => {
      if (released) throw new Error("searchLexical: score() after release(): the array holds another query's scores");
      return ordinal < stats.documents ? (acc[ordinal] ?? 0) : 0;
    },
    ...info,
    release: () => {
      if (released) return;
      released = true;
      for (let i = 0; i < nTouched; i++) acc[touched[i]] = 0;
      keep("scores", acc);
      keep("touched", touched);
    },
  };
}
