import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { EdgeVec, EdgeVecConfig, initSync } from "edgevec";
import { HNSW, type Peer } from "./index.ts";

/**
 * edgevec's HNSW index (Rust, wasm). Metric "l2": on unit vectors it ranks as inner product does, and in a probe
 * edgevec 0.9.0 with "dot" or "cosine" returned the least similar vectors first. Its ids start at 1: mapped back
 * through the ids insertBatchFlat returns.
 */
export function edgevecPeer(): Peer {
  let db: EdgeVec | undefined;
  let rowOf = new Int32Array(0);
  return {
    name: "edgevec",
    label: `edgevec HNSW (M ${HNSW.m}, efConstruction ${HNSW.efConstruction}, ef ${HNSW.efSearch}, l2)`,
    package: "edgevec",
    build(vectors, n, dims) {
      initSync({ module: readFileSync(createRequire(import.meta.url).resolve("edgevec/edgevec_bg.wasm")) });
      const config = new EdgeVecConfig(dims);
      config.metric = "l2";
      config.m = HNSW.m;
      config.m0 = 2 * HNSW.m;
      config.ef_construction = HNSW.efConstruction;
      config.ef_search = HNSW.efSearch;
      db = new EdgeVec(config);
      const ids = db.insertBatchFlat(vectors.subarray(0, n * dims), n);
      rowOf = new Int32Array(Math.max(0, ...ids) + 1).fill(-1);
      ids.forEach((id, row) => (rowOf[id] = row));
    },
    search(query, k) {
      if (!db) throw new Error("edgevec: search before build");
      return (db.search(query, k) as Array<{ id: number }>).map((h) => rowOf[h.id]);
    },
  };
}
