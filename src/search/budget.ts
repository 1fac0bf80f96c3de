// How an isolate's cache budget (CACHE_BUDGET_BYTES) is split, in one place: the worker's registry allocates by it,
// and the build reads it to decide whether an index's partitions can stay resident in a worker at the default budget.

/** The isolate cache budget a worker takes when CACHE_BUDGET_BYTES is not set. */
export const DEFAULT_CACHE_BUDGET_BYTES = 64 * 1024 * 1024;

/** The byte budgets of one isolate's caches. */
export interface BudgetSplit {
  /** Models, flat shards, BM25 buckets and documents: half the budget (one query model must fit it). */
  cache: number;
  /** Refine rows of partitioned indexes (large, rarely reused: apart, so they never evict the rest). */
  refine: number;
  /** Answers of earlier requests (small, the most valuable per byte). */
  results: number;
  /** Loaded versions: manifests and centroids (apart, so that documents never evict what every request needs). */
  loadedVersions: number;
  /** The kernels' memory, where partitions are scanned: the rest of the second half. */
  kernels: number;
}

/** The split of `cacheBudgetBytes`: half for `cache`; the other half for refine rows, results, loaded versions and kernel memory. */
export function splitBudget(cacheBudgetBytes: number): BudgetSplit {
  const half = Math.floor(cacheBudgetBytes / 2);
  const refine = Math.floor(half / 8);
  const results = Math.floor(half / 16);
  const loadedVersions = Math.floor(half / 16);
  return { cache: half, refine, results, loadedVersions, kernels: half - refine - results - loadedVersions };
}

/** How far past the kernel memory an index's int4 rows may go and still count as resident (a few misses a query). */
export const INT4_RESIDENT_SLACK = 1.25;

/**
 * Whether partitions of `int4Bytes` of int4 rows stay (nearly: INT4_RESIDENT_SLACK) resident in `kernels` bytes of
 * kernel memory.
 */
export function int4RowsStay(int4Bytes: number, kernels: number): boolean {
  return int4Bytes <= INT4_RESIDENT_SLACK * kernels;
}
