// The partition step of `i3 build` (manifest 2.0): cluster the passage vectors, write one vector shard per partition
// (its passages in ascending passage order), their half-precision refine rows when the plan wants them, and the
// centroids; then measure recall@10 on held-out query vectors to set the default probe. A corpus small enough for
// one partition keeps its doc-ordered shards (a flat index: no centroids, every shard scanned).
import {
  encodeFloatRows, encodeShard, type ObjectRef, type Partition,
} from "../../src/format/index.ts";
import type { Manifest } from "../../src/format/index.ts";
import { DEFAULT_CACHE_BUDGET_BYTES, int4RowsStay, splitBudget } from "../../src/search/budget.ts";
import { kernelBytesOf } from "../../src/search/ivf.ts";
import { int4Dims } from "../../src/search/kernels/index.ts";
import { createTopKIp } from "../vectors/topk-ip.ts";
import { nodeKernels } from "../vectors/kernels.ts";
import {
  exactTopDocs, gather, memorySource, partitionCount, partitionRefine, partitionRows, partitionVectors, planInt4, planProbe, RESIDENT_PARTITION_ROWS, type PartitionPlan,
} from "../vectors/partition.ts";
import type { ObjectStore } from "./object-store.ts";

/** How the build partitions (every field has a default). */
export interface PartitionOptions {
  /**
   * Partition count (default: one per TARGET_PARTITION_ROWS passages; one per RESIDENT_PARTITION_ROWS where the int4
   * scan would make the index resident, kept if the plan takes int4: `finePartitions`).
   */
  partitions?: number;
  /** Default probe (default: the plan's). */
  probe?: number;
  /** Refine rows: written when the plan needs them (auto, default), always (on) or never (off). */
  refine?: "auto" | "on" | "off";
  /**
   * The scan's precision: auto (default) tries int4 where the int8 rows do not fit a worker's kernel memory (int4Pays)
   * and keeps it when the plan's recall holds (planInt4); int4 tries it whatever the size; int8 never.
   */
  scan?: "auto" | "int8" | "int4";
  /**
   * The fewest candidates an int4 plan re-scores: the hybrid window of the index's fusion depth when it has a lexical
   * section, so that every dense score a fused ranking uses is exact, never an int4 one (default 0).
   */
  minRefine?: number;
  /** recall@10 the plan aims at (default 0.98). */
  recallTarget?: number;
  seed?: number;
  threads?: number;
}

/** Held-out query vectors for the plan, and where they came from. */
export interface PlanQueries {
  vectors: Float32Array;
  count: number;
  source: string;
}

/** What the manifest takes from the partition step. */
export interface PartitionedSection {
  partitions: Partition[];
  centroids?: ObjectRef;
  search: Pick<Manifest["search"], "probe" | "refine" | "scan" | "plan">;
  /** Objects written (partition shards, refine rows, centroids). */
  objects: ObjectRef[];
  plan?: PartitionPlan;
  /** Rows of each partition, ascending (absent for a single partition). */
  members?: Uint32Array[];
}

/**
 * Partitions `rows` passage vectors (float32, passage order; `docOf` their documents) and writes the objects.
 * `flatShards` are the doc-ordered shards already written: kept as the single partition of a small corpus.
 */
export async function writePartitions(
  store: ObjectStore, floats: Float32Array, docOf: Uint32Array, dims: number, flatShards: ObjectRef[],
  queries: PlanQueries, o: PartitionOptions, log: (m: string) => void,
): Promise<PartitionedSection> {
  const rows = docOf.length;
  const fine = finePartitions(rows, dims, o);
  const count = o.partitions ?? (fine ? finePartitionCount(rows, dims) : partitionCount(rows));
  if (count <= 1 || rows < 2) return { partitions: [{ id: 0, centroid: null, shards: flatShards }], search: {}, objects: [] };
  const topk = await createTopKIp(dims, { threads: o.threads });
  try {
    // The plan queries' exact top 10, whatever the partitioning: computed once, for a fallback too.
    const truth = await exactTopDocs(topk, queries.vectors, queries.count, floats, rows, dims, docOf);
    const section = await partitionAndWrite(store, floats, docOf, dims, count, fine, queries, o, log, topk, truth);
    if (section) return section;
    // Not resident after all (int4 lost recall): a partition is a read a query makes, so the coarser count.
    log(`build: the int4 scan did not keep the plan's recall at ${count} partitions: partitioning again at ${partitionCount(rows)}`);
    return (await partitionAndWrite(store, floats, docOf, dims, partitionCount(rows), false, queries, o, log, topk, truth))!;
  } finally {
    await topk.close();
  }
}

type TopK = Awaited<ReturnType<typeof createTopKIp>>;

/** k-means into `count` partitions, the plan, the objects; null, having written nothing, when `fine` and the plan does not scan int4. */
async function partitionAndWrite(
  store: ObjectStore, floats: Float32Array, docOf: Uint32Array, dims: number, count: number, fine: boolean,
  queries: PlanQueries, o: PartitionOptions, log: (m: string) => void, topk: TopK, truth: Awaited<ReturnType<typeof exactTopDocs>>,
): Promise<PartitionedSection | null> {
  const rows = docOf.length;
  const t0 = performance.now();
  // Balanced where a query reads the partitions it probes (balancedPartitions).
  const balanced = balancedPartitions(rows, dims);
  const p = await partitionRows(topk, floats, rows, dims, count, o.seed ?? 1, balanced);
  log(`build: ${p.partitions} partitions (${count} asked${balanced ? ", balanced" : ""}) by spherical k-means in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const parts = p.members.map((m) => partitionVectors(floats, dims, m, docOf));
  const refineRows = o.refine === "off" ? undefined : p.members.map((m) => partitionRefine(floats, dims, m));
  const plan = await measurePlan(p, parts, refineRows, docOf, dims, queries, truth, o, log);
  if (fine && plan.scan !== "int4") return null;
  log(`build: default probe ${plan.probe} of ${p.partitions}${plan.refine ? `, refine ${plan.refine}` : ""}${plan.scan === "int4" ? ", int4 scan" : ""}: recall@10 ${plan.recallAt10.toFixed(4)} against exact float32 on ${plan.queries} ${queries.source}`);
  const writeRefine = o.refine === "on" || (o.refine !== "off" && plan.refine > 0);
  const objects: ObjectRef[] = [];
  const partitions: Partition[] = [];
  for (let i = 0; i < p.partitions; i++) {
    const s = parts[i];
    const shard = await store.write("shard", encodeShard({ dims, vectors: s.vectors, scales: s.scales, codes: s.codes, ordinals: s.ordinals, firstPassage: p.members[i][0] }), { count: s.count });
    objects.push(shard);
    const part: Partition = { id: i, centroid: null, shards: [shard] };
    if (writeRefine) {
      part.refine = await store.write("refine", encodeFloatRows("refine", dims, gather(floats, dims, p.members[i])), { count: s.count });
      objects.push(part.refine);
    }
    partitions.push(part);
  }
  const centroids = await store.write("centroids", encodeFloatRows("centroids", dims, p.centroids), { count: p.partitions });
  objects.push(centroids);
  const search = {
    probe: o.probe ?? plan.probe,
    refine: writeRefine ? (plan.refine || 64) : 0,
    // int4 only with the refine rows it was measured with (measurePlan never picks it for a probe set by hand).
    ...(plan.scan === "int4" && writeRefine ? { scan: "int4" as const } : {}),
    plan: { recallAt10: round4(plan.recallAt10), target: plan.target, queries: plan.queries, source: queries.source },
  };
  return { partitions, centroids, search, objects, plan, members: p.members };
}

async function measurePlan(
  p: Awaited<ReturnType<typeof partitionRows>>, parts: ReturnType<typeof partitionVectors>[], refine: ReturnType<typeof partitionRefine>[] | undefined,
  docOf: Uint32Array, dims: number, queries: PlanQueries, truth: Awaited<ReturnType<typeof exactTopDocs>>, o: PartitionOptions,
  log: (m: string) => void,
): Promise<PartitionPlan> {
  const kernels = nodeKernels(Math.min(2 ** 31, docOf.length * (dims + 8) + (64 << 20)));
  const int8 = memorySource(p, dims, parts, refine, kernels);
  const plan = await planProbe(int8, queries.vectors, queries.count, truth, o.recallTarget ?? 0.98, !!refine && o.refine !== "off");
  // int4 is measured at the plan's probe: a probe set by hand keeps int8 (and the plan's refine), as do dims the int4
  // layout does not take.
  if (o.scan === "int8" || plan.refine === 0 || o.probe !== undefined) return plan;
  if (!int4Dims(dims)) {
    if (o.scan === "int4") log(`build: --scan int4 needs dims a multiple of 32 (the model's are ${dims}): the scan stays int8`);
    return plan;
  }
  if (o.scan !== "int4" && !int4Pays(docOf.length, dims)) return plan;
  int8.dispose();
  return planInt4(memorySource(p, dims, parts, refine, kernels, "int4"), plan, queries.vectors, queries.count, truth, o.minRefine ?? 0);
}

/**
 * Whether the default partition count is the resident one (RESIDENT_PARTITION_ROWS a partition): no count or probe set
 * by hand, the int4 scan allowed, its layout possible at these dims, and making the index resident (int4Resident).
 */
export function finePartitions(rows: number, dims: number, o: Pick<PartitionOptions, "partitions" | "probe" | "scan" | "refine">): boolean {
  return o.partitions === undefined && o.probe === undefined && o.scan !== "int8" && o.refine !== "off" && int4Dims(dims) && int4Resident(rows, dims);
}

/** The partition count when none is set: the fine one where finePartitions, else the coarse one. */
export function defaultPartitionCount(rows: number, dims: number, o: Pick<PartitionOptions, "probe" | "scan" | "refine"> = {}): number {
  return finePartitions(rows, dims, o) ? finePartitionCount(rows, dims) : partitionCount(rows);
}

/** A worker's caches at the default budget: what the build's rules of residency are measured against. */
const DEFAULT_SPLIT = splitBudget(DEFAULT_CACHE_BUDGET_BYTES);

/** Manifest bytes a partition adds (its shard and refine references, in `partitions` and in `objects`): 1,396 a partition in the 100k benchmark's. */
const MANIFEST_BYTES_PER_PARTITION = 1400;

/**
 * The fine partition count: one per RESIDENT_PARTITION_ROWS passages, but no more than keeps the loaded version (the
 * manifest and the float32 centroids) within half of a worker's cache of loaded versions at the default budget, so
 * that other indexes' versions stay beside it (at 512 dims: 304 partitions; 100k passages would take 391); never
 * fewer than the coarse count.
 */
export function finePartitionCount(rows: number, dims: number): number {
  const room = DEFAULT_SPLIT.loadedVersions / 2;
  const most = Math.floor(room / (4 * dims + MANIFEST_BYTES_PER_PARTITION));
  return Math.max(partitionCount(rows), Math.min(partitionCount(rows, RESIDENT_PARTITION_ROWS), most));
}

/**
 * Whether the int4 rows of `rows` passages make an index resident that is not at int8: a worker at the default budget
 * cannot keep the int8 rows in its kernel memory but can keep (nearly: INT4_RESIDENT_SLACK) the int4 ones, so that
 * queries stop reading partitions. Where so, the default partition count is the fine one (finePartitions).
 */
export function int4Resident(rows: number, dims: number): boolean {
  const { kernels } = DEFAULT_SPLIT;
  return kernelBytesOf(rows, dims) > kernels && int4RowsStay(kernelBytesOf(rows, dims, "int4"), kernels);
}

/**
 * Whether the partitions are balanced (offline/vectors/partition.ts BALANCE): where a worker at the default budget
 * can keep them resident at neither precision (int4Pays, and not int4Resident), so that each probe is a read whose
 * bytes are the partition's size. There k-means alone leaves partitions of several clusters, which queries are drawn
 * to, and fragments of a few rows: at 1M synthetic passages balancing took the default probe from 12 to 3 (RESULTS
 * §30). A resident index scans rows, not reads, and keeps k-means' partitions, whatever count or scan it is built with.
 */
export function balancedPartitions(rows: number, dims: number): boolean {
  return int4Pays(rows, dims) && !int4Resident(rows, dims);
}

/**
 * Whether the int4 scan pays for `rows` passages: wherever a worker at the default budget cannot keep the int8 rows in
 * its kernel memory. The int4 rows either stay resident (int4Resident), or, larger, halve what a query reads: the
 * worker shares each partition's int4 form through the colo cache, and the kernel memory keeps twice the partitions
 * (measured at 1M passages: RESULTS §27). Smaller indexes are resident at int8 already. A worker without the colo
 * sharing scans such a larger index at int8 (src/worker/store/loaded-index.ts scanOf).
 */
export function int4Pays(rows: number, dims: number): boolean {
  return kernelBytesOf(rows, dims) > DEFAULT_SPLIT.kernels;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
