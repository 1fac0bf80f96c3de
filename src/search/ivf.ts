// Dense search over a partitioned (IVF) index: score the query against the partition centroids, scan the `probe`
// best partitions exactly with int8, re-score the best `refine` passages from their half-precision rows (when the
// index has them), and let each document score as its best passage. The partitions come from an `IvfSource`, so
// the worker (R2, caches) and the offline side (a build directory) run this same code.
import type { RefineVectors } from "../format/float-rows.ts";
import type { PartitionDocs } from "../format/partition-docs.ts";
import { float16Table } from "../format/float16.ts";
import {
  int4Dims, int4Score, int8Score, KernelError, quantizeQuery, toInt4, type Int4Block, type Int8Block, type Kernels, type PreparedQuery,
} from "./kernels/index.ts";
import { lowerBound } from "./lower-bound.ts";
import { createTopK, sortByScore, topIndices } from "./topk.ts";
import type { DenseResult, DocHit } from "./dense.ts";
import type { DocFilter } from "./filter.ts";

/**
 * The rows a scan reads: int8 as the partition objects store them, or int4 derived from those when the partitions are
 * loaded (half the memory and the scan's bytes; the index's plan chose it, and refine rows re-score its best
 * candidates: manifest search.scan). An updated version's delta is always scanned int8 (it is not refined).
 */
export type ScanPrecision = "int8" | "int4";

/**
 * One partition ready to scan: its rows' doc ordinals (ascending), and its rows with their scales either as typed
 * arrays (scanned in JS) or in kernel memory (scanned by the wasm SIMD kernels): int8 (`vectors`, `block`) or int4
 * (`packed`, `block4`; kernels/int4.ts), never both.
 */
export interface IvfPartition {
  count: number;
  ordinals: Uint32Array;
  vectors?: Int8Array;
  packed?: Uint8Array;
  scales?: Float32Array;
  block?: Int8Block;
  block4?: Int4Block;
}

/** A partition as decoded from its shard object (int8 rows). */
export interface DecodedPartition {
  count: number;
  dims: number;
  vectors: Int8Array;
  scales: Float32Array;
  ordinals: Uint32Array;
}

/** A decoded partition's rows at the scan's precision, as typed arrays. */
export function scanRows(p: DecodedPartition, scan: ScanPrecision = "int8"): IvfPartition {
  if (scan === "int8") return { count: p.count, ordinals: p.ordinals, vectors: p.vectors, scales: p.scales };
  const { packed, scales } = toInt4(p.vectors, p.scales, p.count, p.dims);
  return { count: p.count, ordinals: p.ordinals, packed, scales };
}

/** Kernel memory a partition of `count` rows takes at the scan's precision (rows and scales, rounded up). */
export function kernelBytesOf(count: number, dims: number, scan: ScanPrecision = "int8"): number {
  const row = scan === "int4" ? dims >>> 1 : dims;
  return 16 * Math.ceil((count * row) / 16) + 16 * Math.ceil((4 * count) / 16);
}

/** Where the partitions of an index come from. Accessors resolve in the order of the ids asked for. */
export interface IvfSource {
  dims: number;
  /** Unit centroids, [partitions * dims]. */
  centroids: Float32Array;
  partitions: number;
  /** The kernels whose memory holds the partitions' blocks (absent: every partition has typed arrays). */
  kernels?: Kernels;
  /** Partitions ready to scan. */
  load(ids: number[]): Promise<IvfPartition[]>;
  /** Half-precision rows of the same partitions; absent when the index has none. */
  refine?(ids: number[]): Promise<RefineVectors[]>;
  /** Called once the partitions `load` (and `always`) gave are scanned: they may be evicted again (the worker pins them). */
  release?(ids: number[]): void;
  /**
   * Partitions every query scans besides the probed ones, whatever their centroids: an updated version's delta
   * (src/format/delta-section.ts). Not refined; absent: none.
   */
  always?(): Promise<IvfPartition[]>;
  /** The documents of each partition (indexes with filterable fields): where a filtered search finds its matches. */
  partitionDocs?(): Promise<PartitionDocs>;
  /**
   * How many of the leading partitions of `order` may be scanned at once (the worker: what its kernel memory holds);
   * absent: any number. A query's probe is cut to it (at least 1), and a filtered search widens in batches of it.
   */
  fits?(order: number[]): number;
}

/**
 * Copies a partition's typed rows (int8 or int4: scanRows) into kernel memory (once; it is then scanned there by
 * every query). Returns null when the kernel memory is full (the caller evicts and retries, or scans the typed arrays).
 */
export function toKernelMemory(kernels: Kernels, p: IvfPartition): IvfPartition | null {
  const { arena } = kernels;
  const rows = p.packed ?? p.vectors;
  if (!rows || !p.scales) throw new Error("ivf: a partition to copy has no typed rows");
  const at = arena.tryAlloc(rows.byteLength);
  if (at < 0) return null;
  const scales = arena.tryAlloc(4 * p.count);
  if (scales < 0) {
    arena.free(at);
    return null;
  }
  arena.u8At(at, rows.byteLength).set(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
  arena.f32At(scales, p.count).set(p.scales.subarray(0, p.count));
  return p.packed
    ? { count: p.count, ordinals: p.ordinals, block4: { packed: at, scales, count: p.count } }
    : { count: p.count, ordinals: p.ordinals, block: { vectors: at, scales, count: p.count } };
}

/**
 * A decoded partition's rows at the scan's precision in kernel memory: int8 copied; int4 made there by the kernels
 * (Kernels.toInt4) from a temporary int8 copy, or by scanRows in JS when there is no room for that copy (the same
 * bits). Null when the kernel memory cannot hold the rows (the caller evicts and retries, or scans scanRows' typed
 * arrays).
 */
export function toKernelRows(kernels: Kernels, p: DecodedPartition, scan: ScanPrecision = "int8"): IvfPartition | null {
  if (scan === "int8") return toKernelMemory(kernels, scanRows(p));
  const { arena } = kernels;
  const { count, dims } = p;
  if (!int4Dims(dims)) throw new KernelError("bad_size", `ivf: int4 rows need dims a multiple of 32, got ${dims}`);
  const packed = arena.tryAlloc((count * dims) >>> 1);
  const scales = packed < 0 ? -1 : arena.tryAlloc(4 * count);
  if (scales < 0) {
    if (packed >= 0) arena.free(packed);
    return null;
  }
  const src = toKernelMemory(kernels, scanRows(p));
  if (!src) {
    arena.free(packed);
    arena.free(scales);
    return toKernelMemory(kernels, scanRows(p, "int4")); // the room just freed
  }
  try {
    kernels.toInt4(src.block!, dims, { packed, scales, count });
  } catch (e) {
    arena.free(packed);
    arena.free(scales);
    throw e;
  } finally {
    freeKernelMemory(kernels, src);
  }
  return { count, ordinals: p.ordinals, block4: { packed, scales, count } };
}

/** Frees a partition's kernel memory (on eviction). */
export function freeKernelMemory(kernels: Kernels, p: IvfPartition): void {
  const b = p.block ?? p.block4;
  if (!b) return;
  kernels.arena.free("vectors" in b ? b.vectors : b.packed);
  kernels.arena.free(b.scales);
  p.block = p.block4 = undefined;
}

/**
 * Scores (int8 or int4, as the partition holds its rows) of every row of the partition, into `into`: by the kernels
 * where it lives in their memory and there is room for the scores, else by the JS loop (over the same memory, or over
 * its typed arrays; the same bits).
 */
function scanScores(query: Float32Array, part: IvfPartition, kernels: Kernels | undefined, prepared: () => PreparedQuery | undefined, into: Float32Array): void {
  const dims = query.length;
  if ((part.block || part.block4) && kernels) {
    const q = prepared();
    const out = q ? kernels.arena.tryAlloc(4 * part.count) : -1;
    if (out >= 0) {
      try {
        if (part.block4) q!.int4Scores(part.block4, out);
        else q!.int8Scores(part.block!, out);
        into.set(kernels.arena.f32At(out, part.count));
        return;
      } finally {
        kernels.arena.free(out);
      }
    }
    // The kernel memory is full of partitions other queries hold: score where the rows lie, in JS.
    const { arena } = kernels;
    if (part.block4) return jsInt4Scores(query, arena.u8At(part.block4.packed, (part.count * dims) >>> 1), arena.f32At(part.block4.scales, part.count), into);
    return jsScores(query, arena.int8At(part.block!.vectors, part.count * dims), arena.f32At(part.block!.scales, part.count), into);
  }
  if (part.packed && part.scales) return jsInt4Scores(query, part.packed, part.scales, into);
  if (!part.vectors || !part.scales) throw new Error("ivf: a partition has neither kernel memory nor typed arrays");
  jsScores(query, part.vectors, part.scales, into);
}

/** The kernels' int8 scores, computed in JS (the same bits: quantize-query.ts). */
function jsScores(query: Float32Array, vectors: Int8Array, scales: Float32Array, into: Float32Array): void {
  const q = quantizeQuery(query);
  for (let i = 0; i < into.length; i++) into[i] = int8Score(q, vectors, scales, i);
}

/** The kernels' int4 scores, computed in JS (the same bits: kernels/int4.ts). */
function jsInt4Scores(query: Float32Array, packed: Uint8Array, scales: Float32Array, into: Float32Array): void {
  const q = quantizeQuery(query);
  for (let i = 0; i < into.length; i++) into[i] = int4Score(q, packed, scales, i);
}

export interface IvfOptions {
  /** Partitions scanned (clamped to 1..partitions). */
  probe: number;
  /** Passages re-scored from refine rows (0: none). */
  refine: number;
  /** A filtered search's exact fallback scans at most this many partitions (default EXACT_FILTER_PARTITIONS). */
  exactFilterPartitions?: number;
  /** The precision the source's partitions are scanned at (informational here: the source decodes them so). */
  scan?: ScanPrecision;
}

/** The `probe` partitions whose centroids have the largest inner product with the query, best first. */
export function rankPartitions(query: Float32Array, centroids: Float32Array, partitions: number, probe: number): number[] {
  const dims = query.length;
  const top = createTopK(Math.max(1, Math.min(probe, partitions)));
  let p = 0;
  // four centroids at once: four independent sums (each over d in order, as one alone: the same bits)
  for (; p + 4 <= partitions; p += 4) {
    const o = p * dims;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let d = 0; d < dims; d++) {
      const q = query[d];
      s0 += q * centroids[o + d];
      s1 += q * centroids[o + dims + d];
      s2 += q * centroids[o + 2 * dims + d];
      s3 += q * centroids[o + 3 * dims + d];
    }
    top.push(p, s0);
    top.push(p + 1, s1);
    top.push(p + 2, s2);
    top.push(p + 3, s3);
  }
  for (; p < partitions; p++) {
    const o = p * dims;
    let s = 0;
    for (let d = 0; d < dims; d++) s += query[d] * centroids[o + d];
    top.push(p, s);
  }
  return top.sorted().map((t) => t.id);
}

/**
 * By the top six bits of binary16 bits (sign and exponent): the implicit leading 1024 (0 when subnormal), and the
 * signed scale 2^(e - 25) (2^-24 when subnormal), NaN where the exponent is all ones (infinities and NaN).
 */
const HALF_LEAD = Float64Array.from({ length: 64 }, (_, t) => ((t & 0x1f) === 0 ? 0 : 1024));
const HALF_SCALE = Float64Array.from({ length: 64 }, (_, t) => ((t & 0x1f) === 0x1f ? NaN : (t & 0x20 ? -1 : 1) * 2 ** (Math.max(t & 0x1f, 1) - 25)));

/**
 * The value of binary16 bits `h`: (1024 + m) * ±2^(e - 25), or m * ±2^-24 when subnormal (exact products);
 * float16Table()[h] for infinities and NaN. Equal to float16Table()[h] for every h; computed, because a lookup per
 * value in the 256 KB table misses the cache after the scan has streamed through it.
 */
export function binary16Value(h: number, table: Float32Array): number {
  const t = h >>> 10;
  const scale = HALF_SCALE[t];
  return scale === scale ? (HALF_LEAD[t] + (h & 0x3ff)) * scale : table[h];
}

/**
 * Exact float inner products of the query with binary16 rows (row `i` of `rows`, for each item), into `out`: each
 * sum runs over d in order, as one row alone would; four rows go at once, so that their reads from memory overlap.
 */
function float16Dots(query: Float32Array, items: Array<{ rows: Uint16Array; i: number }>, table: Float32Array, out: Float64Array): void {
  const dims = query.length;
  let j = 0;
  for (; j + 4 <= items.length; j += 4) {
    const r0 = items[j].rows, r1 = items[j + 1].rows, r2 = items[j + 2].rows, r3 = items[j + 3].rows;
    const b0 = items[j].i * dims, b1 = items[j + 1].i * dims, b2 = items[j + 2].i * dims, b3 = items[j + 3].i * dims;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let d = 0; d < dims; d++) {
      const q = query[d];
      a0 += q * binary16Value(r0[b0 + d], table);
      a1 += q * binary16Value(r1[b1 + d], table);
      a2 += q * binary16Value(r2[b2 + d], table);
      a3 += q * binary16Value(r3[b3 + d], table);
    }
    out[j] = a0; out[j + 1] = a1; out[j + 2] = a2; out[j + 3] = a3;
  }
  for (; j < items.length; j++) {
    const { rows, i } = items[j];
    let acc = 0;
    for (let d = 0; d < dims; d++) acc += query[d] * binary16Value(rows[i * dims + d], table);
    out[j] = acc;
  }
}

/**
 * A scanned partition: its rows' scores (int8, or refined) next to the rows themselves. The partitions of one
 * scanPartitions call share one buffer, in order (`scores` are views of it).
 */
interface Scanned {
  part: IvfPartition;
  scores: Float32Array;
}

/**
 * Top `k` documents over the probed partitions, plus the dense score of any other document: exact for documents
 * with a passage in a scanned partition; for the rest, which the centroids ranked below every probed partition, the
 * lowest score seen in the scan (they are taken to be no closer than the least similar scanned passage).
 *
 * With a `filter`, only rows of matching documents are ranked; when the probed partitions hold fewer than `k`
 * matching documents the scan widens (see `widen`), so a filter matching few documents still finds them.
 *
 * @example
 * const dense = await searchIvf(queryVector, source, 100, { probe: 8, refine: 64 });
 */
export async function searchIvf(query: Float32Array, src: IvfSource, k: number, o: IvfOptions, filter?: DocFilter): Promise<DenseResult & { probed: number[] }> {
  const want = Math.max(1, Math.min(o.probe, src.partitions));
  // A filter that leaves out only deleted documents never widens the scan: nearly every document matches it.
  const widens = filter !== undefined && !filter.deletionsOnly;
  const order = rankPartitions(query, src.centroids, src.partitions, widens ? src.partitions : want);
  const n = src.fits ? Math.max(1, Math.min(want, src.fits(order.slice(0, want)))) : want;
  const probed = order.slice(0, n);
  const { scanned, always } = await scanWithAlways(query, src, probed, filter);
  if (widens) await widen(query, src, order.slice(probed.length), scanned, probed, k, { ...o, probe: n }, filter, always);
  // The probed partitions (scanned[i] is partition probed[i]), then the `always` ones.
  const all = always.length ? [...scanned, ...always] : scanned;
  const flat = flatten(all);
  const refine = o.refine > 0 && src.refine ? o.refine : 0;
  const wanted = Math.max(8 * k, refine);
  let rows = topIndices(flat.scores, wanted);
  if (refine) rows = await refineBest(query, all, flat, probed, src.refine!, rows, wanted, refine);
  const floor = lowestScore(all);
  return {
    hits: topDocuments(all, flat, rows, wanted, k),
    probed,
    scores: (ordinals) => new Map(ordinals.map((ord) => [ord, bestOf(all, ord) ?? floor])),
  };
}

/** The probed partitions and the `always` ones, scanned in one go (the worker releases their pins together). */
async function scanWithAlways(query: Float32Array, src: IvfSource, probed: number[], filter?: DocFilter): Promise<{ scanned: Scanned[]; always: Scanned[] }> {
  if (!src.always) return { scanned: await scanPartitions(query, src, probed, filter), always: [] };
  const extra = await src.always();
  const parts = await src.load(probed).catch((e) => {
    src.release?.(probed);
    throw e;
  });
  const scanned = scanLoaded(query, src, [...parts, ...extra], probed, filter);
  return { scanned: scanned.slice(0, parts.length), always: scanned.slice(parts.length) };
}

/** Partitions the exact fallback of a filtered search may scan (each an object read when not cached). */
export const EXACT_FILTER_PARTITIONS = 256;

/**
 * Widens a filtered scan whose partitions hold fewer than `k` matching documents (appending to `scanned` and
 * `probed`). With the index's partition documents: when at most EXACT_FILTER_PARTITIONS further partitions hold a
 * matching document, all of them are scanned (every matching document is then scored: the exact top k); else those
 * partitions are scanned nearest centroid first, `probe` at a time, until `k` matching documents are found, and then
 * `probe` more. Without them, every partition in centroid order, until `k` are found or every matching document is.
 */
async function widen(
  query: Float32Array, src: IvfSource, rest: number[], scanned: Scanned[], probed: number[], k: number, o: IvfOptions, filter: DocFilter,
  always: Scanned[] = [],
): Promise<void> {
  const found = matchingFound(scanned, k, always);
  let matches = found();
  if (matches >= k || matches >= filter.count || rest.length === 0) return;
  const step = Math.max(1, o.probe);
  const scan = async (ids: number[]) => {
    for (let i = 0; i < ids.length; i += step) {
      const batch = ids.slice(i, i + step);
      scanned.push(...(await scanPartitions(query, src, batch, filter)));
      probed.push(...batch);
    }
  };
  if (src.partitionDocs) {
    const pd = await src.partitionDocs();
    const holders = rest.filter((p) => holdsMatch(pd, p, filter));
    if (holders.length <= (o.exactFilterPartitions ?? EXACT_FILTER_PARTITIONS)) return scan(holders);
    rest = holders;
  }
  let extra = false;
  while (rest.length > 0 && matches < filter.count) {
    if (matches >= k) {
      if (extra || !src.partitionDocs) return;
      extra = true; // one more round for recall, as the probe gives an unfiltered search
    }
    await scan(rest.splice(0, step));
    matches = found();
  }
}

/** Whether partition `p` holds a document the filter matches. */
function holdsMatch(pd: PartitionDocs, p: number, filter: DocFilter): boolean {
  for (let i = pd.offsets[p]; i < pd.offsets[p + 1]; i++) if (filter.has(pd.docs[i])) return true;
  return false;
}

/**
 * Counts the distinct documents with a ranked (matching) row in `scanned`, up to `cap`: each call counts only the
 * partitions appended to `scanned` since the last one.
 */
function matchingFound(scanned: Scanned[], cap: number, seen: Scanned[] = []): () => number {
  const docs = new Set<number>();
  for (const { part, scores } of seen) for (let i = 0; i < part.count && docs.size < cap; i++) if (scores[i] !== -Infinity) docs.add(part.ordinals[i]);
  let counted = 0;
  return () => {
    for (; counted < scanned.length && docs.size < cap; counted++) {
      const { part, scores } = scanned[counted];
      for (let i = 0; i < part.count; i++) if (scores[i] !== -Infinity) docs.add(part.ordinals[i]);
    }
    return Math.min(docs.size, cap);
  };
}

/** Loads and scans partitions `ids`, releasing them after; rows of documents the filter rejects score -Infinity. */
async function scanPartitions(query: Float32Array, src: IvfSource, ids: number[], filter?: DocFilter): Promise<Scanned[]> {
  return scanLoaded(query, src, await src.load(ids), ids, filter);
}

/** Scans loaded partitions, then releases `ids`; rows of documents the filter rejects score -Infinity. */
function scanLoaded(query: Float32Array, src: IvfSource, parts: IvfPartition[], ids: number[], filter?: DocFilter): Scanned[] {
  let q: PreparedQuery | undefined | null;
  const prepared = () => {
    if (q === undefined) {
      try {
        q = src.kernels!.prepare(query);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        q = null; // no room for the prepared query: scan in JS
      }
    }
    return q ?? undefined;
  };
  const all = new Float32Array(parts.reduce((n, p) => n + p.count, 0));
  let at = 0;
  const scanned: Scanned[] = parts.map((part) => ({ part, scores: all.subarray(at, (at += part.count)) }));
  try {
    for (const { part, scores } of scanned) scanScores(query, part, src.kernels, prepared, scores);
  } finally {
    q?.release();
    src.release?.(ids);
  }
  if (filter) {
    for (const { part, scores } of scanned) for (let i = 0; i < part.count; i++) if (!filter.has(part.ordinals[i])) scores[i] = -Infinity;
  }
  return scanned;
}

/** The lowest score of the scan (0 when nothing was scanned). */
function lowestScore(scanned: Scanned[]): number {
  let floor = Infinity;
  for (const { scores } of scanned) for (let i = 0; i < scores.length; i++) if (scores[i] < floor && scores[i] !== -Infinity) floor = scores[i];
  return Number.isFinite(floor) ? floor : 0;
}

/** The scores of the whole scan as one array, and where each partition's rows start in it. */
interface Flat {
  scores: Float32Array;
  starts: Uint32Array;
}

/**
 * The scan's scores as one array: the buffer the partitions share when one scanPartitions call scanned them all, else
 * a copy, which the partitions' `scores` then view (so refined scores are seen by both).
 */
function flatten(scanned: Scanned[]): Flat {
  const starts = new Uint32Array(scanned.length + 1);
  scanned.forEach((s, si) => (starts[si + 1] = starts[si] + s.part.count));
  const rows = starts[scanned.length];
  const first = scanned[0]?.scores;
  const shared = first !== undefined && scanned.every((s, si) => s.scores.buffer === first.buffer && s.scores.byteOffset === first.byteOffset + 4 * starts[si]);
  if (shared) return { scores: new Float32Array(first.buffer, first.byteOffset, rows), starts };
  const scores = new Float32Array(rows);
  scanned.forEach((s, si) => {
    scores.set(s.scores, starts[si]);
    s.scores = scores.subarray(starts[si], starts[si + 1]);
  });
  return { scores, starts };
}

/** The partition (index into `starts`) that row `g` of the flat scores falls in. */
function partitionOf(starts: Uint32Array, g: number): number {
  let lo = 0, hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= g) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The `k` best documents of the scan, a document scoring as its best passage, from `rows` (the best `wanted` rows,
 * best first; fewer when that is every scored row): widened until they hold `k` documents or every row. No map of
 * every document is made.
 */
function topDocuments(scanned: Scanned[], flat: Flat, rows: Uint32Array, wanted: number, k: number): DocHit[] {
  for (;;) {
    const docs = new Map<number, number>();
    for (const g of rows) {
      const si = partitionOf(flat.starts, g);
      const ord = scanned[si].part.ordinals[g - flat.starts[si]];
      if (!docs.has(ord)) docs.set(ord, flat.scores[g]); // best first: the first row of a document is its best
    }
    if (docs.size >= k || rows.length < wanted || wanted >= flat.scores.length) {
      return [...docs].slice(0, k).map(([ordinal, score]) => ({ ordinal, score }));
    }
    wanted *= 4;
    rows = topIndices(flat.scores, wanted);
  }
}

/** A document's best score in the scan (its rows found by binary search: a partition's ordinals ascend). */
function bestOf(scanned: Scanned[], ordinal: number): number | undefined {
  let best: number | undefined;
  for (const { part, scores } of scanned) {
    const o = part.ordinals;
    for (let i = lowerBound(o, ordinal); i < o.length && o[i] === ordinal; i++) if (best === undefined || scores[i] > best) best = scores[i];
  }
  return best;
}

/**
 * Re-scores the `n` best rows of the scan from the half-precision rows of their partitions. `rows` are the best
 * `wanted` (>= n) rows by the int8 scores, best first; returns the best `wanted` rows by the refined scores: `rows`
 * re-sorted, or selected again when a refined row fell to the end of them, where a row left out may now rank above it.
 */
async function refineBest(
  query: Float32Array, scanned: Scanned[], flat: Flat, probed: number[],
  load: (ids: number[]) => Promise<RefineVectors[]>, rows: Uint32Array, wanted: number, n: number,
): Promise<Uint32Array> {
  const { scores, starts } = flat;
  // Rows of the probed partitions only: an `always` partition (past probed.length) has no refine rows.
  const refined = [...rows.subarray(0, n)].map((g) => {
    const si = partitionOf(starts, g);
    return { si, i: g - starts[si] };
  }).filter(({ si }) => si < probed.length);
  const needed = [...new Set(refined.map((r) => r.si))];
  const refine = await load(needed.map((si) => probed[si]));
  const bySi = new Map(needed.map((si, j) => [si, refine[j]]));
  const last = rows.length > 0 ? { row: rows[rows.length - 1], score: scores[rows[rows.length - 1]] } : undefined;
  const dots = new Float64Array(refined.length);
  float16Dots(query, refined.map(({ si, i }) => ({ rows: bySi.get(si)!.rows, i })), float16Table(), dots);
  // A refine row that is not a number (a broken build) ranks last, as a row the scan skipped, never first.
  refined.forEach(({ si, i }, j) => (scanned[si].scores[i] = Number.isNaN(dots[j]) ? -Infinity : dots[j]));
  const sorted = sortByScore(scores, rows.slice());
  if (rows.length < wanted || !last) return sorted; // every scored row: nothing was left out
  const end = sorted[sorted.length - 1];
  const holds = scores[end] > last.score || (scores[end] === last.score && end <= last.row);
  return holds ? sorted : topIndices(scores, wanted);
}

/** Whether a manifest's vectors are partitioned (2.0 with centroids): scanned by probe, loaded on demand. */
export function isPartitioned(m: { version: { major: number }; partitions: unknown[]; centroids?: unknown }): boolean {
  return m.version.major >= 2 && m.partitions.length > 1 && m.centroids !== undefined;
}

/** The probe and refine of a search: the request's (probe clamped to 1..partitions), else the index's defaults. */
export function ivfOptions(m: { partitions: unknown[]; search: { probe?: number; refine?: number; scan?: ScanPrecision } }, req: { probe?: number } = {}): IvfOptions {
  const probe = req.probe ?? m.search.probe ?? Math.max(1, Math.ceil(m.partitions.length / 10));
  return { probe: Math.max(1, Math.min(probe, m.partitions.length)), refine: m.search.refine ?? 0, scan: m.search.scan ?? "int8" };
}
