import type { Context } from "hono";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { FormatError } from "../format";
import { searchShards } from "../search/search";
import { fetchDocs } from "../store/docs";
import type { IndexRegistry } from "../store/registry";
import { parseSearchRequest, readJsonBody } from "./search-request";

/** POST /v1/tenants/:tenant/indexes/:index/search  {query, k} -> {results: [{id, score, title, text}], ...} */
export function searchHandler(registry: IndexRegistry) {
  return async (c: Context<{ Bindings: Env }>) => {
    const t0 = performance.now();
    const req = parseSearchRequest(await readJsonBody(c.req.raw));
    const tenant = c.req.param("tenant")!;
    const index = c.req.param("index")!;
    const idx = await registry.get(c.env.INDEXES, tenant, index);
    const t1 = performance.now();
    try {
      const q = await idx.encoder.encode(req.query);
      const t2 = performance.now();
      const hits = searchShards(q.vector, await idx.shards(), { k: req.k, rescore: idx.manifest.search.rescore });
      const t3 = performance.now();
      const docs = await fetchDocs(c.env.INDEXES, registry.cache, idx, hits.map((h) => h.ordinal));
      const t4 = performance.now();
      return c.json({
        tenant,
        index,
        version: idx.version,
        query: { tokens: q.tokens, truncated: q.truncated },
        results: hits.map((h, i) => ({
          id: docs[i].id,
          score: h.score,
          title: docs[i].title ?? "",
          text: docs[i].text,
          ...(docs[i].metadata ? { metadata: docs[i].metadata } : {}),
        })),
        // Inside a Worker the clock only moves across I/O, so these show I/O waits, not CPU time.
        timing: { loadMs: t1 - t0, encodeMs: t2 - t1, scoreMs: t3 - t2, docsMs: t4 - t3, totalMs: t4 - t0 },
      });
    } catch (e) {
      if (e instanceof FormatError) {
        throw new ApiError(503, "index_unavailable", `index ${tenant}/${index} is unavailable: ${e.message}`, { cause: e });
      }
      throw e;
    }
  };
}
