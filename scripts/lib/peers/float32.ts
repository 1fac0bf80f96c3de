import { exactTopK } from "../exact.ts";
import type { Peer } from "./index.ts";

/** The baseline: a plain JS loop over a float32 copy of the vectors (the same loop as the ground truth). */
export function float32Peer(): Peer {
  let data = new Float32Array(0);
  let rows = 0, width = 0;
  return {
    name: "float32",
    label: "exact float32 loop in JS",
    build(vectors, n, dims) {
      data = vectors.slice(0, n * dims);
      rows = n;
      width = dims;
    },
    search: (query, k) => exactTopK(data, rows, width, query, k).ids,
  };
}
