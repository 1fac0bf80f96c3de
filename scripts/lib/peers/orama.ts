import { create, insertMultiple, search, type AnyOrama } from "@orama/orama";
import type { Peer } from "./index.ts";

/**
 * Orama's vector search (a linear scan with cosine similarity). Documents carry the vector as number[], as Orama's
 * schema check requires; `similarity: -1` keeps every document above the threshold, so the top k is exact (Orama's
 * default threshold, 0.8, would drop results on uniform vectors).
 */
export function oramaPeer(): Peer {
  let db: AnyOrama | undefined;
  return {
    name: "orama",
    label: "Orama vector search (linear scan, similarity -1)",
    package: "@orama/orama",
    async build(vectors, n, dims) {
      db = create({ schema: { embedding: `vector[${dims}]` } as const });
      const docs = [];
      for (let i = 0; i < n; i++) docs.push({ id: String(i), embedding: Array.from(vectors.subarray(i * dims, (i + 1) * dims)) });
      await insertMultiple(db, docs);
    },
    async search(query, k) {
      if (!db) throw new Error("orama: search before build");
      const r = await search(db, { mode: "vector", vector: { value: query, property: "embedding" }, similarity: -1, limit: k });
      return r.hits.map((h) => Number(h.id));
    },
  };
}
