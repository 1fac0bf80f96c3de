// The dense side of an index, whatever its layout: a flat index scans every shard (binary pass + int8 rescoring,
// src/search/dense.ts); a partitioned one (manifest 2.0) scans the probed partitions (src/search/ivf.ts). The worker
// and the offline search build a VectorIndex over their own storage and search it through here.
import { denseResult, type DenseResult, type ShardVectors } from "./dense.ts";
import type { DocFilter } from "./filter.ts";
import { searchIvf, type IvfOptions, type IvfSource } from "./ivf.ts";

/**
 * The vectors of a version. An updated version's delta shards (src/format/delta-section.ts) are among a flat index's
 * shards, and a partitioned index's `source.always`: every query scans them.
 */
export type VectorIndex =
  | { kind: "flat"; shards(): Promise<ShardVectors[]>; rescore: number }
  | { kind: "ivf"; source: IvfSource; options: IvfOptions };

/**
 * Top `n` documents for a query vector (of those `filter` matches), and the dense score of any other document.
 *
 * @example
 * const dense = await denseSearch(queryVector, vectorIndex, 100);
 */
export async function denseSearch(query: Float32Array, vi: VectorIndex, n: number, filter?: DocFilter): Promise<DenseResult> {
  if (vi.kind === "flat") return denseResult(query, await vi.shards(), n, vi.rescore, filter);
  return searchIvf(query, vi.source, n, vi.options, filter);
}
