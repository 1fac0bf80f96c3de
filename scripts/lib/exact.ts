import { createTopK } from "../../src/search/topk.ts";

/** The `k` best rows by inner product, best first, with their scores. */
export interface ExactHits {
  ids: Uint32Array;
  scores: Float32Array;
}

/**
 * Exact top-k by inner product over `n` float32 rows (row-major, `dims` wide), accumulated in double precision:
 * the ground truth of the peer benchmark and its "plain JS float32 loop" peer. Ties keep the lower row.
 *
 * @example
 * const { ids } = exactTopK(vectors, 100_000, 512, query, 10);
 */
export function exactTopK(vectors: Float32Array, n: number, dims: number, query: Float32Array, k: number): ExactHits {
  const top = createTopK(k);
  for (let row = 0, base = 0; row < n; row++, base += dims) {
    let dot = 0;
    for (let i = 0; i < dims; i++) dot += query[i] * vectors[base + i];
    if (dot > top.threshold()) top.push(row, dot);
  }
  const best = top.sorted();
  return { ids: Uint32Array.from(best, (h) => h.id), scores: Float32Array.from(best, (h) => h.score) };
}
