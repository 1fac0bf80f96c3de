// Partitioning an index's passage vectors (IVF): spherical k-means centroids, each passage assigned to its nearest
// centroid, and the partition plan: how many partitions a query probes by default, and whether the best candidates
// are re-scored from half-precision rows, chosen so that recall@10 against exact float32 search reaches a target
// on held-out query vectors. Recall is measured with the worker's own search code (src/search/ivf.ts).
import { quantizeInt8, signCodes } from "../../src/format/quantize.ts";
import { decodeFloatRows, encodeFloatRows, type RefineVectors } from "../../src/format/float-rows.ts";
import type { ShardVectors } from "../../src/search/dense.ts";
import type { Kernels } from "../../src/search/kernels/index.ts";
import { freeKernelMemory, scanRows, searchIvf, toKernelRows, type IvfOptions, type IvfPartition, type IvfSource, type ScanPrecision } from "../../src/search/ivf.ts";
import { int4Dims } from "../../src/search/kernels/index.ts";
import { samplePositions, sphericalKMeans } from "./kmeans.ts";
import { rng } from "../../src/random.ts";
import type { TopKIp } from "./topk-ip.ts";

/** Passages per partition the partition count aims at: about 0.6 MB of int8 vectors per object at 512 dims. */
export const TARGET_PARTITION_ROWS = 1024;
/**
 * Passages per partition of an index that a worker keeps resident as int4 rows (offline/build/partitions.ts
 * int4Resident, finePartitionCount): once resident, a probed partition costs the rows it scans, not a read, so finer
 * partitions scan fewer rows for the same recall (100k passages: 391 partitions probe 6% of the rows where 98 probe
 * 25%, and 304, the count's cap, 8%; RESULTS section 24).
 */
export const RESIDENT_PARTITION_ROWS = 256;
/** Sample rows per centroid that k-means trains on (faiss's range is 39..256). */
const SAMPLE_PER_CENTROID = 64;
/** Probes tried by the plan, in order. */
const PROBES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128];
/** Passages re-scored from half-precision rows when the plan turns refining on. */
export const REFINE_CANDIDATES = 64;

/** Partition count for `rows` passages: one partition per TARGET_PARTITION_ROWS, at least 1. */
export function partitionCount(rows: number, target = TARGET_PARTITION_ROWS): number {
  return Math.max(1, Math.round(rows / target));
}

export interface Partitioned {
  partitions: number;
  /** Unit centroids [partitions * dims]. */
  centroids: Float32Array;
  /** Partition of each row. */
  assign: Uint32Array;
  /** Rows of each partition, ascending (so doc ordinals ascend within a partition). */
  members: Uint32Array[];
}

/**
 * The sizes partitioning keeps to, as shares of the partition size asked (rows / partitions): a partition of more
 * than BALANCE.max is split by k-means on its own rows, and the rows of one of fewer than BALANCE.min go to their
 * nearest other partition (balancePartitions). k-means on a sample leaves partitions of a few rows and others of several clusters (at 1M
 * synthetic passages: 1 to 4,005 rows against a mean of 1,024), and a query is drawn to the large ones: every probe
 * of one reads and scans all of its rows, and a probe of a near-empty one is a read for almost nothing.
 */
export const BALANCE = { max: 1.5, min: 0.25 } as const;
/** The version of the partitioning rule (k-means, balanced where the build balances): builds made by another are partitioned differently. */
export const PARTITION_RULE = "kmeans-balanced-1";

/**
 * Clusters `rows` unit vectors into `partitions` partitions: k-means on a sample, then every row to its nearest
 * centroid. Empty partitions are dropped, so the result may have fewer. With `balance`, the partitions are then
 * balanced (balancePartitions: small ones merged into their neighbours, large ones split), so it may have more.
 */
export async function partitionRows(topk: TopKIp, vectors: Float32Array, rows: number, dims: number, partitions: number, seed = 1, balance = false): Promise<Partitioned> {
  if (partitions <= 1) {
    return { partitions: 1, centroids: meanDirection(vectors, rows, dims), assign: new Uint32Array(rows), members: [Uint32Array.from({ length: rows }, (_, i) => i)] };
  }
  const pick = samplePositions(rows, Math.min(rows, partitions * SAMPLE_PER_CENTROID), rng(seed));
  const centroids = await sphericalKMeans(topk, gather(vectors, dims, pick), pick.length, dims, Math.min(partitions, pick.length), { seed });
  const { indices } = await topk.search(vectors, rows, centroids, centroids.length / dims, 1);
  const groups = groupRows(Uint32Array.from(indices), centroids.length / dims)
    .map((m, j) => ({ rows: m, centroid: centroids.subarray(j * dims, (j + 1) * dims) }))
    .filter((g) => g.rows.length > 0);
  const balanced = balance ? await balancePartitions(topk, vectors, dims, groups, rows / partitions, seed) : groups;
  const assign = new Uint32Array(rows);
  balanced.forEach((g, j) => g.rows.forEach((r) => (assign[r] = j)));
  const out = new Float32Array(balanced.length * dims);
  balanced.forEach((g, j) => out.set(g.centroid, j * dims));
  return { partitions: balanced.length, centroids: out, assign, members: balanced.map((g) => g.rows) };
}

/** A partition while it is balanced: its rows (ascending) and its unit centroid. */
export interface PartitionGroup {
  rows: Uint32Array;
  centroid: Float32Array;
}

/** The rows of each of `k` partitions, ascending. */
function groupRows(assign: Uint32Array, k: number): Uint32Array[] {
  const members = Array.from({ length: k }, () => [] as number[]);
  assign.forEach((j, r) => members[j].push(r));
  return members.map((m) => Uint32Array.from(m));
}

/**
 * `groups` (rows of `vectors`) balanced around `target` rows (BALANCE), empty ones dropped: the rows of each group
 * under BALANCE.min go to the nearest centroid of a group that stays; each group over BALANCE.max is split into
 * round(size / target) groups by one k-means on its own rows; then the rows of a piece of a split under BALANCE.min
 * go to their nearest group as well. A group that takes rows gets its rows' mean direction as its centroid. So no
 * partition is under BALANCE.min (unless all are); one may stay over BALANCE.max where a split's k-means divided
 * unevenly or small pieces joined it (at 1M synthetic passages: 6 of 1,038 over it, the largest 2,021 rows against
 * 1,024 asked, where k-means alone left 138 over it and one of 4,005). Deterministic for a given seed.
 */
export async function balancePartitions(topk: TopKIp, vectors: Float32Array, dims: number, groups: PartitionGroup[], target: number, seed: number): Promise<PartitionGroup[]> {
  const merged = await mergeSmall(topk, vectors, dims, groups.filter((g) => g.rows.length > 0), target);
  const split: PartitionGroup[] = [];
  for (const g of merged) {
    const n = Math.min(Math.round(g.rows.length / target), g.rows.length);
    if (g.rows.length <= BALANCE.max * target || n < 2) {
      split.push(g);
      continue;
    }
    const x = gather(vectors, dims, g.rows);
    const centroids = await sphericalKMeans(topk, x, g.rows.length, dims, n, { seed });
    const { indices } = await topk.search(x, g.rows.length, centroids, n, 1);
    groupRows(Uint32Array.from(indices), n).forEach((m, j) => {
      if (m.length > 0) split.push({ rows: m.map((i) => g.rows[i]), centroid: centroids.slice(j * dims, (j + 1) * dims) });
    });
  }
  return mergeSmall(topk, vectors, dims, split, target);
}

/** The rows of groups under BALANCE.min * target moved to the nearest centroid of a group that stays (none: as they are). */
async function mergeSmall(topk: TopKIp, vectors: Float32Array, dims: number, groups: PartitionGroup[], target: number): Promise<PartitionGroup[]> {
  const small = (g: PartitionGroup) => g.rows.length < BALANCE.min * target;
  const stay = groups.filter((g) => !small(g));
  const moving = groups.filter(small);
  if (moving.length === 0 || stay.length === 0) return groups;
  const moved = Uint32Array.from(moving.flatMap((g) => [...g.rows]));
  const centroids = new Float32Array(stay.length * dims);
  stay.forEach((g, j) => centroids.set(g.centroid, j * dims));
  const { indices } = await topk.search(gather(vectors, dims, moved), moved.length, centroids, stay.length, 1);
  const extra = groupRows(Uint32Array.from(indices), stay.length).map((at) => at.map((i) => moved[i]));
  return stay.map((g, j) => {
    if (extra[j].length === 0) return g;
    const rows = Uint32Array.from([...g.rows, ...extra[j]]).sort();
    return { rows, centroid: meanDirection(gather(vectors, dims, rows), rows.length, dims) };
  });
}

/** The rows `members` of `vectors`, packed. */
export function gather(vectors: Float32Array, dims: number, members: ArrayLike<number>): Float32Array {
  const out = new Float32Array(members.length * dims);
  for (let i = 0; i < members.length; i++) out.set(vectors.subarray(members[i] * dims, (members[i] + 1) * dims), i * dims);
  return out;
}

function meanDirection(vectors: Float32Array, rows: number, dims: number): Float32Array {
  const c = new Float32Array(dims);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dims; d++) c[d] += vectors[r * dims + d];
  let n = 0;
  for (const x of c) n += x * x;
  return n > 0 ? c.map((x) => x / Math.sqrt(n)) : c;
}

/** One partition's rows as the worker decodes them: int8 vectors, scales, sign codes, doc ordinals. */
export function partitionVectors(vectors: Float32Array, dims: number, members: Uint32Array, docOf: Uint32Array): ShardVectors {
  const rows = gather(vectors, dims, members);
  const q = quantizeInt8(rows, dims);
  return { count: members.length, dims, vectors: q.vectors, scales: q.scales, codes: signCodes(rows, dims), ordinals: Uint32Array.from(members, (r) => docOf[r]) };
}

/** The half-precision rows of one partition, as its refine object decodes. */
export function partitionRefine(vectors: Float32Array, dims: number, members: Uint32Array): RefineVectors {
  return decodeFloatRows("refine", encodeFloatRows("refine", dims, gather(vectors, dims, members)));
}

export interface PlanPoint {
  probe: number;
  refine: number;
  /** The scan's precision (int8 when absent). */
  scan?: ScanPrecision;
  recallAt10: number;
  /** Mean passages scanned per query. */
  scanned: number;
}

export interface PartitionPlan {
  probe: number;
  refine: number;
  /** int4 when the plan found the int4 scan as good (planInt4); int8 otherwise. */
  scan: ScanPrecision;
  recallAt10: number;
  target: number;
  queries: number;
  /** Every point measured, for the record. */
  points: PlanPoint[];
}

/**
 * Exact float32 top-10 documents of each query (a document scores as its best passage): ground truth for recall.
 */
export async function exactTopDocs(topk: TopKIp, queries: Float32Array, nq: number, vectors: Float32Array, rows: number, dims: number, docOf: Uint32Array): Promise<number[][]> {
  const depth = Math.min(rows, 100);
  const { indices, scores } = await topk.search(queries, nq, vectors, rows, depth);
  return Array.from({ length: nq }, (_, q) => {
    const best = new Map<number, number>();
    for (let j = 0; j < depth; j++) {
      const doc = docOf[indices[q * depth + j]];
      if (!best.has(doc)) best.set(doc, scores[q * depth + j]);
    }
    return [...best.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 10).map(([d]) => d);
  });
}

/**
 * An IvfSource over partitions held in memory (the plan's measurements; tests), scanned at `scan` (default int8): in
 * kernel memory when `kernels` are given and have room, else as typed arrays. `dispose` frees its kernel memory.
 */
export function memorySource(
  p: Pick<Partitioned, "centroids" | "partitions">, dims: number, parts: ShardVectors[], refine?: RefineVectors[], kernels?: Kernels, scan: ScanPrecision = "int8",
): IvfSource & { dispose(): void } {
  const ready: IvfPartition[] = parts.map((s) => (kernels && toKernelRows(kernels, s, scan)) || scanRows(s, scan));
  return {
    dispose: () => {
      if (kernels) for (const part of ready) freeKernelMemory(kernels, part);
    },
    dims,
    centroids: p.centroids,
    partitions: p.partitions,
    kernels,
    load: async (ids) => ids.map((i) => ready[i]),
    refine: refine ? async (ids) => ids.map((i) => refine[i]) : undefined,
  };
}

/**
 * Measures recall@10 (documents) of the IVF search for growing probes, without and with refining, and picks the
 * cheapest setting that reaches `target`: the fewest passages scanned, where refining counts as two more partitions
 * (its extra fetch). When nothing reaches the target, the best recall measured.
 */
export async function planProbe(
  src: IvfSource, queries: Float32Array, nq: number, truth: number[][], target: number, refineAvailable: boolean,
): Promise<PartitionPlan> {
  const points: PlanPoint[] = [];
  const perPartition = (await sizes(src)).reduce((a, b) => a + b, 0) / src.partitions;
  for (const refine of refineAvailable ? [0, REFINE_CANDIDATES] : [0]) {
    let last = -1;
    for (const probe of PROBES.filter((p) => p < src.partitions).concat([src.partitions])) {
      const { recallAt10, scanned } = await measure(src, queries, nq, truth, { probe, refine });
      points.push({ probe, refine, recallAt10, scanned });
      if (recallAt10 >= target) break;
      // Past the plateau (int8 cannot separate what more probes find) more probes only cost.
      if (probe >= 8 && recallAt10 - last < 0.001) break;
      last = recallAt10;
    }
  }
  const cost = (p: PlanPoint) => p.scanned + (p.refine ? 2 * perPartition : 0);
  const ok = points.filter((p) => p.recallAt10 >= target).sort((a, b) => cost(a) - cost(b));
  const pick = ok[0] ?? [...points].sort((a, b) => b.recallAt10 - a.recallAt10 || cost(a) - cost(b))[0];
  return { probe: pick.probe, refine: pick.refine, scan: "int8", recallAt10: pick.recallAt10, target, queries: nq, points };
}

/** recall@10 the int4 scan may give up against the int8 plan it replaces. */
export const INT4_RECALL_SLACK = 0.002;
/** Refine depths the int4 scan is tried with, as multiples of the int8 plan's refine. */
const INT4_REFINE_FACTORS = [1, 2, 4];

/**
 * The int4 scan instead of an int8 plan that refines: at the int8 plan's probe, the smallest refine depth (1, 2 or 4
 * times the plan's, at least `minRefine`) whose recall@10 reaches both the target and the int8 plan's recall less
 * INT4_RECALL_SLACK. int4
 * halves the kernel memory a partition takes and the bytes a query scans; its candidates are re-scored from the same
 * refine rows, so deeper refining buys back what 4 bits lose. Returns the int8 plan (with the points measured) when
 * no depth does, or when the plan does not refine or the dims are not a multiple of 32.
 */
export async function planInt4(src4: IvfSource, int8: PartitionPlan, queries: Float32Array, nq: number, truth: number[][], minRefine = 0): Promise<PartitionPlan> {
  if (int8.refine === 0 || !src4.refine || !int4Dims(src4.dims)) return int8;
  const floor = Math.max(int8.target, int8.recallAt10 - INT4_RECALL_SLACK);
  const points = [...int8.points];
  for (const factor of INT4_REFINE_FACTORS) {
    const refine = Math.max(int8.refine * factor, minRefine);
    if (points.some((pt) => pt.scan === "int4" && pt.refine === refine)) continue;
    const { recallAt10, scanned } = await measure(src4, queries, nq, truth, { probe: int8.probe, refine, scan: "int4" });
    points.push({ probe: int8.probe, refine, scan: "int4", recallAt10, scanned });
    if (recallAt10 >= floor) return { ...int8, refine, scan: "int4", recallAt10, points };
  }
  return { ...int8, points };
}

/** recall@10 (documents) of the IVF search over the plan queries, and the passages a query scanned, on average. */
async function measure(src: IvfSource, queries: Float32Array, nq: number, truth: number[][], o: IvfOptions): Promise<{ recallAt10: number; scanned: number }> {
  const dims = src.dims;
  let hit = 0, scanned = 0;
  for (let q = 0; q < nq; q++) {
    const r = await searchIvf(queries.subarray(q * dims, (q + 1) * dims), src, 10, o);
    scanned += (await src.load(r.probed)).reduce((n, s) => n + s.count, 0);
    const want = new Set(truth[q]);
    hit += r.hits.filter((h) => want.has(h.ordinal)).length / Math.max(1, truth[q].length);
  }
  return { recallAt10: hit / nq, scanned: scanned / nq };
}

async function sizes(src: IvfSource): Promise<number[]> {
  const all = await src.load(Array.from({ length: src.partitions }, (_, i) => i));
  return all.map((s) => s.count);
}
