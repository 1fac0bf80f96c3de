import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Peer } from "./index.ts";

type VoyModule = typeof import("voy-search");

/** voy-search's wasm glue without a bundler: Node cannot import its .wasm as a module, so instantiate it here. */
async function loadVoy(): Promise<VoyModule> {
  const gluePath = "voy-search/voy_search_bg.js"; // no type declarations: the same API as the package's entry
  const glue = (await import(gluePath)) as VoyModule & { __wbg_set_wasm(exports: WebAssembly.Exports): void };
  const bytes = readFileSync(createRequire(import.meta.url).resolve("voy-search/voy_search_bg.wasm"));
  // from bytes, instantiate gives { module, instance } (the Workers types in tsconfig only know the module overload)
  const { instance } = (await WebAssembly.instantiate(bytes, { "./voy_search_bg.js": glue })) as unknown as { instance: WebAssembly.Instance };
  glue.__wbg_set_wasm(instance.exports);
  return glue;
}

const BATCH = 10_000; // one Resource of 50k 512-d vectors fails in voy 0.6.3 (`unwrap_throw`); batches of 10k do not

/**
 * voy-search: a k-d tree (Rust, wasm) over squared Euclidean distance, which on unit vectors ranks as cosine. Built
 * with add() in batches of BATCH (see above).
 */
export function voyPeer(): Peer {
  let index: InstanceType<VoyModule["Voy"]> | undefined;
  return {
    name: "voy",
    label: `voy-search k-d tree (wasm, added in batches of ${BATCH})`,
    package: "voy-search",
    async build(vectors, n, dims) {
      const { Voy } = await loadVoy();
      index = new Voy();
      for (let start = 0; start < n; start += BATCH) {
        const embeddings = [];
        for (let i = start; i < Math.min(n, start + BATCH); i++) {
          embeddings.push({ id: String(i), title: "", url: "", embeddings: Array.from(vectors.subarray(i * dims, (i + 1) * dims)) });
        }
        index.add({ embeddings });
      }
    },
    search(query, k) {
      if (!index) throw new Error("voy: search before build");
      return index.search(query, k).neighbors.map((h) => Number(h.id));
    },
  };
}
