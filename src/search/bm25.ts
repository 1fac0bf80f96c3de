// BM25 over the partitioned inverted index (src/format/bm25.ts). Pure: the caller passes the bucket and
// norm loaders (R2 + isolate cache in the worker, files in Node), so the worker and `npm run eval --index`
// rank with exactly this code.
import {
  bucketOf, byteToLength, decodeBlock, decodePostings, postingBlocks, POSTING_BLOCK,
  type DeltaLexical, type LexicalBucket, type LexicalSection, type LexicalTerm, type PostingBlocks,
} from "../format";
import { queryTermCounts } from "../text/analyzer";
import type { DocHit } from "./dense";
import type { DocFilter } from "./filter";
import { lowerBound } from "./lower-bound";
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
   * Postings of the scored terms' lists, and how many of them were read: by the search (MaxScore reads fewer), and by
   * score() for documents MaxScore left out (a block each per list skipped), counted as it reads them.
   */
  postings: { total: number; read: number };
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
  if (found.length === 0) return { hits: [], score: () => 0, ...info, postings: { total: 0, read: 0 }, release: () => {} };

  const [norms, deltaNorms] = await Promise.all([reader.norms(), delta?.norms()]);
  const table = normTable(s.bm25, stats.avgDocLength);
  const k1p1 = s.bm25.k1 + 1;
  const lists = (t: FoundTerm) => t.lists.map((l) => ({ ...l, lengths: l.norms === "base" ? norms : deltaNorms! }));
  // Terms by weight, highest first (the rare ones; ties: first seen): one order for every run of a query, whatever
  // the isolate has learned of its lists, so every score is the same sum in the same order, pruned or not.
  const order = found.map((t) => ({ w: t.count * t.idf, df: t.df, lists: lists(t) })).sort((a, b) => b.w - a.w);
  // What a term can add to a document at most (MaxScore's bound): from what its lists are known to hold, else
  // w * (k1 + 1), the limit of any tf. rest[i]: the most the terms from i on can add together.
  const rest = new Float64Array(order.length + 1);
  for (let i = order.length - 1; i >= 0; i--) {
    const { w, lists } = order[i];
    rest[i] = rest[i + 1] + w * lists.reduce((m, l) => Math.max(m, listBound(l.entry, l.lengths, table, k1p1)), 0);
  }
  // Scores in a dense array by ordinal (never allocated per query: the spare's touched entries are zeroed on
  // release), and the ordinals touched, in first-touch order.
  const acc = take("scores", stats.documents, (n) => new Float64Array(n)); // entries past stats.documents stay 0
  const touched = take("touched", Math.min(stats.documents, found.reduce((n, f) => n + f.df, 0)), (n) => new Uint32Array(n));
  let nTouched = 0;
  // A term's postings are decoded into these (kept for the next query, as the scores are), then scored in one loop.
  const longest = found.reduce((n, f) => Math.max(n, ...f.lists.map((l) => l.entry.df)), 0);
  const docs = take("docs", longest, (n) => new Uint32Array(n));
  const tfs = take("tfs", longest, (n) => new Uint32Array(n));
  // Every posting of the first terms is scored, and a document may enter the ranking, until the terms left could
  // not lift a document that has none of the first ones above the depth-th score so far (MaxScore, Turtle & Flood
  // 1995): from there on only the documents that can still reach it (the candidates) are scored, their postings read
  // block by block. A document's score is the same sum either way; the others are scored when asked (score()).
  let switchAt = order.length;
  let restDf = found.reduce((n, f) => n + f.df, 0);
  const postings = { total: restDf, read: 0 };
  // The depth-th score so far is at most the highest score so far, and at most the one last computed plus what the
  // terms since could add: it is computed only when one of these bounds would let the terms left be skipped.
  let best = 0, lastKth = Infinity, lastRest = 0;
  for (let i = 0; i < order.length; i++) {
    if (depth > 0 && nTouched >= depth && restDf >= Math.max(MIN_SKIP, 4 * nTouched) && withSlack(rest[i], best) < Math.min(best, lastKth + lastRest - rest[i])) {
      lastKth = kthScore(acc, touched, nTouched, depth);
      lastRest = rest[i];
      if (withSlack(rest[i], lastKth) < lastKth) {
        switchAt = i;
        break;
      }
    }
    const w = order[i].w;
    for (const { bucket, entry, first, lengths } of order[i].lists) {
      readWhole(bucket, entry, lengths, docs, tfs, postings);
      for (let n = 0; n < entry.df; n++) {
        const local = docs[n], tf = tfs[n], doc = first + local;
        if (filter && !filter.has(doc)) continue; // a document the filter rejects is never scored
        if (acc[doc] === 0) touched[nTouched++] = doc;
        const v = (acc[doc] += (w * tf * k1p1) / (tf + table[lengths[local]]));
        if (v > best) best = v;
      }
    }
    restDf -= order[i].df;
  }
  let candidates: Uint32Array | undefined;
  if (switchAt < order.length) {
    const floor = lastKth - withSlack(rest[switchAt], lastKth); // the depth-th score the switch was decided on
    candidates = touched.subarray(0, nTouched).filter((doc) => acc[doc] >= floor).sort();
    for (let i = switchAt; i < order.length; i++) {
      const w = order[i].w;
      for (const l of order[i].lists) {
        const add = (doc: number, local: number, tf: number) => {
          acc[doc] += (w * tf * k1p1) / (tf + table[l.lengths[local]]);
        };
        const known = statsOf(l.entry, l.lengths);
        if (known) forEachCandidate(postings, l.bucket, l.entry, known.blocks, candidates, l.first, add);
        else { // read whole once: its table and bounds for the next queries
          readWhole(l.bucket, l.entry, l.lengths, docs, tfs, postings);
          mergeCandidates(docs, tfs, l.entry.df, candidates, l.first, add);
        }
      }
    }
  }
  keep("docs", docs);
  keep("tfs", tfs);
  const top = createTopK(depth);
  if (candidates) for (const doc of candidates) top.push(doc, acc[doc]);
  else for (let i = 0; i < nTouched; i++) top.push(touched[i], acc[touched[i]]);
  let released = false;
  const completed = new Map<number, number>();
  /** The score of a document the candidates left out: its first terms' sum, then the others' postings looked up. */
  const complete = (ordinal: number): number => {
    let v = acc[ordinal];
    for (let i = switchAt; i < order.length; i++) {
      const w = order[i].w;
      for (const l of order[i].lists) {
        const local = ordinal - l.first;
        // Every list of a skipped term was read whole or by blocks above: its table is known.
        const tf = local >= 0 && local < l.lengths.length ? tfOf(postings, l.bucket, l.entry, statsOf(l.entry, l.lengths)!.blocks, local) : 0;
        if (tf > 0) v += (w * tf * k1p1) / (tf + table[l.lengths[local]]);
      }
    }
    return v;
  };
  return {
    hits: top.sorted().map(({ id, score }) => ({ ordinal: id, score })),
    score: (ordinal) => {
      if (released) throw new Error("searchLexical: score() after release(): the array holds another query's scores");
      if (!(Number.isInteger(ordinal) && ordinal >= 0 && ordinal < stats.documents)) return 0;
      if (!candidates || includes(candidates, ordinal)) return acc[ordinal];
      if (filter && !filter.has(ordinal)) return 0; // never scored
      let v = completed.get(ordinal);
      if (v === undefined) completed.set(ordinal, (v = complete(ordinal)));
      return v;
    },
    ...info,
    postings,
    release: () => {
      if (released) return;
      released = true;
      for (let i = 0; i < nTouched; i++) acc[touched[i]] = 0;
      keep("scores", acc);
      keep("touched", touched);
    },
  };
}

/**
 * Postings the terms left must have before MaxScore checks whether it may skip them: the check costs a pass over the
 * documents scored so far (about a quarter of the postings left at most), and short lists are read whole at once.
 */
const MIN_SKIP = 8192;

/**
 * What the terms left may add at most (`rest`), widened for rounding: a score is a sum of rounded terms, so a document
 * whose exact score falls just below the cut (`kth`) could come out equal to it, or an ulp above; the errors are
 * relative to the sums (up to a few ulps of `kth` per term), so the margin is a share of both, far above them.
 */
const withSlack = (rest: number, kth: number): number => rest + (rest + Math.abs(kth)) * 1e-9;

/** What a term's list was found to hold when it was first read whole (with the norms it was scored with). */
interface ListStats {
  /** Its highest tf and its shortest document's length byte: together a bound on what it adds to any document. */
  maxTf: number;
  minLength: number;
  blocks: PostingBlocks;
}

/**
 * Per term entry of a decoded bucket and the norms it was scored with (held as long as the isolate holds both: weak
 * on each, so neither is kept alive by it): a few bytes per block of POSTING_BLOCK postings, about 1/16 of the list's
 * own bytes.
 */
const listStats = new WeakMap<LexicalTerm, WeakMap<Uint8Array, ListStats>>();

function statsOf(entry: LexicalTerm, lengths: Uint8Array): ListStats | undefined {
  return listStats.get(entry)?.get(lengths);
}

/**
 * Decodes the whole list into docs and tfs (counting it in `count`); the first time for these norms, also its block
 * table and bounds (ListStats), kept for the next queries.
 */
function readWhole(bucket: LexicalBucket, entry: LexicalTerm, lengths: Uint8Array, docs: Uint32Array, tfs: Uint32Array, count: { read: number }): void {
  const blocks = statsOf(entry, lengths) ? undefined : postingBlocks(entry.df);
  decodePostings(bucket, entry, docs, tfs, blocks);
  count.read += entry.df;
  if (blocks) learn(entry, lengths, docs, tfs, blocks);
}

function learn(entry: LexicalTerm, lengths: Uint8Array, docs: Uint32Array, tfs: Uint32Array, blocks: PostingBlocks): void {
  let maxTf = 0, minLength = 255;
  for (let n = 0; n < entry.df; n++) {
    if (tfs[n] > maxTf) maxTf = tfs[n];
    if (lengths[docs[n]] < minLength) minLength = lengths[docs[n]];
  }
  let byNorms = listStats.get(entry);
  if (!byNorms) listStats.set(entry, (byNorms = new WeakMap()));
  byNorms.set(lengths, { maxTf, minLength, blocks });
}

/** The most one occurrence-weighted posting of the list adds, per unit of term weight. */
function listBound(entry: LexicalTerm, lengths: Uint8Array, table: Float64Array, k1p1: number): number {
  const s = statsOf(entry, lengths);
  return s && s.maxTf > 0 ? (s.maxTf * k1p1) / (s.maxTf + table[s.minLength]) : k1p1;
}

const blockDocs = new Uint32Array(POSTING_BLOCK), blockTfs = new Uint32Array(POSTING_BLOCK);

/** Calls fn(doc, local, tf) for each of the ascending `candidates` the list holds, reading only their blocks. */
function forEachCandidate(
  count: { read: number }, bucket: LexicalBucket, entry: LexicalTerm, blocks: PostingBlocks, candidates: Uint32Array, first: number,
  fn: (doc: number, local: number, tf: number) => void,
): void {
  const last = blocks.last;
  let b = -1, n = 0, j = 0;
  for (const doc of candidates) {
    const local = doc - first;
    if (local < 0) continue;
    let nb = b < 0 ? 0 : b;
    while (nb < last.length && last[nb] < local) nb++;
    if (nb === last.length) return;
    if (nb !== b) {
      b = nb;
      n = decodeBlock(bucket, entry, blocks, b, blockDocs, blockTfs);
      count.read += n;
      j = 0;
    }
    while (j < n && blockDocs[j] < local) j++;
    if (j < n && blockDocs[j] === local) fn(doc, local, blockTfs[j]);
  }
}

/** Calls fn(doc, local, tf) for each of the ascending `candidates` in a list decoded whole (`df` postings). */
function mergeCandidates(docs: Uint32Array, tfs: Uint32Array, df: number, candidates: Uint32Array, first: number, fn: (doc: number, local: number, tf: number) => void): void {
  let j = 0;
  for (const doc of candidates) {
    const local = doc - first;
    if (local < 0) continue;
    while (j < df && docs[j] < local) j++;
    if (j === df) return;
    if (docs[j] === local) fn(doc, local, tfs[j]);
  }
}

/** The tf of `local` in the list (0: not in it), reading the one block it would be in. */
function tfOf(count: { read: number }, bucket: LexicalBucket, entry: LexicalTerm, blocks: PostingBlocks, local: number): number {
  const lo = lowerBound(blocks.last, local);
  if (lo === blocks.last.length) return 0;
  const n = decodeBlock(bucket, entry, blocks, lo, blockDocs, blockTfs);
  count.read += n;
  for (let j = 0; j < n; j++) if (blockDocs[j] === local) return blockTfs[j];
  return 0;
}

/** Whether the ascending `sorted` holds `v`. */
function includes(sorted: Uint32Array, v: number): boolean {
  const i = lowerBound(sorted, v);
  return i < sorted.length && sorted[i] === v;
}

/** The `k`-th highest score among the touched documents (k <= n). */
function kthScore(acc: Float64Array, touched: Uint32Array, n: number, k: number): number {
  const top = createTopK(k);
  for (let i = 0; i < n; i++) top.push(touched[i], acc[touched[i]]);
  return top.threshold();
}
