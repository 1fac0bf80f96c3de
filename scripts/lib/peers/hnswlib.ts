import { HNSW, type Peer } from "./index.ts";

type HnswIndex = {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void;
  setEfSearch(ef: number): void;
  addItems(items: Float32Array[], replaceDeleted: boolean): number[];
  searchKnn(query: Float32Array, k: number, filter: undefined): { neighbors: number[] };
};

/**
 * hnswlib (C++) compiled to wasm by hnswlib-wasm: HNSW with metric "ip". The package is built for browsers only:
 * a `window` object lets its loader run in Node, and its IndexedDB file-system sync then logs an error that does not
 * affect the index (it lives in wasm memory).
 */
export function hnswlibPeer(efSearch: number = HNSW.efSearch): Peer {
  let index: HnswIndex | undefined;
  let rowOf: number[] = [];
  return {
    name: efSearch === HNSW.efSearch ? "hnswlib" : `hnswlib-ef${efSearch}`,
    label: `hnswlib-wasm HNSW (M ${HNSW.m}, efConstruction ${HNSW.efConstruction}, ef ${efSearch}, ip)`,
    package: "hnswlib-wasm",
    async build(vectors, n, dims) {
      (globalThis as { window?: object }).window ??= {};
      const { loadHnswlib } = await import("hnswlib-wasm/dist/hnswlib.js");
      const lib = await loadHnswlib();
      index = new lib.HierarchicalNSW("ip", dims, "") as unknown as HnswIndex;
      index.initIndex(n, HNSW.m, HNSW.efConstruction, 100);
      index.setEfSearch(efSearch);
      const rows = Array.from({ length: n }, (_, i) => vectors.subarray(i * dims, (i + 1) * dims));
      const labels = index.addItems(rows, false);
      rowOf = [];
      labels.forEach((label, row) => (rowOf[label] = row));
    },
    search(query, k) {
      if (!index) throw new Error("hnswlib: search before build");
      return index.searchKnn(query, k, undefined).neighbors.map((label) => rowOf[label]);
    },
  };
}
