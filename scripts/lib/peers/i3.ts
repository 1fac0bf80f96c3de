import { quantizeInt8, signCodes } from "../../../src/format/index.ts";
import { searchShards, type ShardVectors } from "../../../src/search/dense.ts";
import type { Peer } from "./index.ts";

/**
 * This project's scorer as the worker runs it: int8 vectors with per-vector scales and sign codes (what `i3 build`
 * writes, here as one shard, one passage per document), searched by searchShards. `rescore` > 0: binary pass, then
 * int8 rescoring of the best `rescore`; 0: exact int8 over every vector.
 */
export function i3Peer(name: string, rescore: number): Peer {
  let shard: ShardVectors | undefined;
  return {
    name,
    label: rescore > 0 ? `searchShards: binary pass + int8 rescoring of ${rescore}` : "searchShards: exact int8",
    build(vectors, n, dims) {
      const floats = vectors.subarray(0, n * dims);
      const q = quantizeInt8(floats, dims);
      const ordinals = new Uint32Array(n);
      for (let i = 0; i < n; i++) ordinals[i] = i;
      shard = { count: n, dims, vectors: q.vectors, scales: q.scales, codes: signCodes(floats, dims), ordinals };
    },
    search(query, k) {
      if (!shard) throw new Error(`${name}: search before build`);
      return searchShards(query, [shard], { k, rescore }).map((h) => h.ordinal);
    },
  };
}
