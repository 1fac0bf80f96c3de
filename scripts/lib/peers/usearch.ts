import { createRequire } from "node:module";
import { HNSW, type Peer } from "./index.ts";

type USearch = typeof import("usearch");

/**
 * usearch (C++ native addon, prebuilt for linux-x64): HNSW over f32 with metric "ip", the native reference. Built
 * and searched on one thread, like every other peer here.
 */
export function usearchPeer(): Peer {
  let index: InstanceType<USearch["Index"]> | undefined;
  return {
    name: "usearch",
    label: `usearch HNSW native (M ${HNSW.m}, efConstruction ${HNSW.efConstruction}, ef ${HNSW.efSearch}, f32, ip, 1 thread)`,
    package: "usearch",
    build(vectors, n, dims) {
      const { Index } = createRequire(import.meta.url)("usearch") as USearch;
      index = new Index({
        dimensions: dims, metric: "ip" as never, quantization: "f32" as never, connectivity: HNSW.m,
        expansion_add: HNSW.efConstruction, expansion_search: HNSW.efSearch, multi: false,
      });
      const keys = new BigUint64Array(n);
      for (let i = 0; i < n; i++) keys[i] = BigInt(i);
      index.add(keys, vectors.subarray(0, n * dims), 1);
    },
    search(query, k) {
      if (!index) throw new Error("usearch: search before build");
      return Array.from(index.search(query, k, 1).keys, Number);
    },
  };
}
