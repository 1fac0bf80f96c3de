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
 * Clusters `rows` unit vectors into `partitions` partitions (k-means on a sample, then every row to its nearest
 * centroid). Empty partitions are dropped, so the result may have fewer.
 */
export async function partitionRows(topk: TopKIp, vectors: Float32Array, rows: number, dims: number, partitions: number, seed = 1): Promise<Partitioned> {
  if (partitions <= 1) {
    return { partitions: 1, centroids: meanDirection(vectors, rows, dims), assign: new Uint32Array(rows), members: [Uint32Array.from({ length: rows }, (_, i) => i)] };
  }
  const pick = samplePositions(rows, Math.min(rows, partitions * SAMPLE_PER_CENTROID), rng(seed));
  const sample = new Float32Array(pick.length * dims);
  pick.forEach((r, i) => sample.set(vectors.subarray(r * dims, (r + 1) * dims), i * dims));
  let centroids = await sphericalKMeans(topk, sample, pick.length, dims, Math.min(partitions, pick.length), { seed });
  let { indices } = await topk.search(vectors, rows, centroids, centroids.length / dims, 1);
  const counts = new Uint32Array(centroids.length / dims);
  for (const j of indices) counts[j]++;
  const kept = [...counts.keys()].filter((j) => counts[j] > 0);
  if (kept.length < counts.length) {
    const remap = new Int32Array(counts.length).fill(-1);
    kept.forEach((j, i) => (remap[j] = i));
    centroids = Float32Array.from(kept.flatMap((j) => [...centroids.subarray(j * dims, (j + 1) * dims)]));
    indices = indices.map((j) => remap[j]);
  }
  const assign = Uint32Array.from(indices);
  const members = kept.map(() => [] as number[]);
  for (let r = 0; r < rows; r++) members[assign[r]].push(r);
  return { partitions: kept.length, centroids, assign, members: members.map((m) => Uint32Array.from(m)) };
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
  const rows = new Float32Array(members.length * dims);
  members.forEach((r, i) => rows.set(vectors.subarray(r * dims, (r + 1) * dims), i * dims));
  const q = quantizeInt8(rows, dims);
  return { count: members.length, dims, vectors: q.vectors, scales: q.scales, codes: signCodes(rows, dims), ordinals: Uint32Array.from(members, (r) => docOf[r]) };
}

/** The half-precision rows of one partition, as its refine object decodes. */
export function partitionRefine(vectors: Float32Array, dims: number, members: Uint32Array): RefineVectors {
  const rows = new Float32Array(members.length * dims);
  members.forEach((r, i) => rows.set(vectors.subarray(r * dims, (r + 1) * dims), i * dims));
  return decodeFloatRows("refine", encodeFloatRows("refine", dims, rows));
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
