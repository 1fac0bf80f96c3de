import type { Context } from "hono";
import type { Env } from "../env";
import { ApiError } from "../http-error";
import { FormatError } from "../../format";
import type { Fusion } from "../../search/fusion";
import { searchHybrid, searchOptions, type SearchMode } from "../../search/modes";
import { searchLexical } from "../../search/bm25";
import { denseFloor, denseResult } from "../../search/dense";
import { fetchDocs } from "../store/docs";
import type { LoadedIndex } from "../store/loaded-index";
import type { IndexRegistry } from "../store/registry";
import { parseSearchRequest, readJsonBody, type SearchRequest } from "./search-request";

/** Mode, fusion and candidate depth of a request: what it names, else the index's defaults (manifest.lexical). */
export function resolveOptions(req: SearchRequest, idx: LoadedIndex): { mode: SearchMode; fusion: Fusion; depth: number } {
  const opts = searchOptions(idx.lexical?.section, req);
  if (opts.mode !== "dense" && !idx.lexical) {
    throw new ApiError(400, "invalid_request", `"mode": "${opts.mode}" needs a lexical index; ${idx.tenant}/${idx.index} has none (build it without --no-lexical)`);
  }
  return opts;
}

/**
 * POST /v1/tenants/:tenant/indexes/:index/search  {query, k, mode?, fusion?, weight?, normalization?}
 *   -> {mode, results: [{id, score, scores: {dense?, lexical?}, title, text}], ...}
 */
export function searchHandler(registry: IndexRegistry) {
  return async (c: Context<{ Bindings: Env }>) => {
    const t0 = performance.now();
    const req = parseSearchRequest(await readJsonBody(c.req.raw));
    const tenant = c.req.param("tenant")!;
    const index = c.req.param("index")!;
    const idx = await registry.get(c.env.INDEXES, tenant, index);
    const opts = resolveOptions(req, idx);
    const t1 = performance.now();
    try {
      let q: { tokens: number; truncated: boolean } = { tokens: 0, truncated: false };
      let encodeMs = 0;
      const dense = async (n: number) => {
        const te = performance.now();
        const e = await idx.encoder.encode(req.query);
        encodeMs = performance.now() - te;
        q = { tokens: e.tokens, truncated: e.truncated };
        return denseResult(e.vector, await idx.shards(), n, idx.manifest.search.rescore);
      };
      const r = await searchHybrid({
        mode: opts.mode, k: req.k, depth: opts.depth, fusion: opts.fusion, dense, denseFloor: denseFloor(idx.manifest),
        lexical: idx.lexical ? (n) => searchLexical(idx.lexical!, req.query, n) : undefined,
      });
      const t3 = performance.now();
      const docs = await fetchDocs(c.env.INDEXES, registry.cache, idx, r.hits.map((h) => h.ordinal));
      const t4 = performance.now();
      return c.json({
        tenant,
        index,
        version: idx.version,
        mode: r.mode,
        ...(r.mode === "hybrid" ? { fusion: opts.fusion } : {}),
        query: { ...q, ...(r.lexical ? { terms: r.lexical.terms, matchedTerms: r.lexical.matched } : {}) },
        results: r.hits.map((h, i) => ({
          id: docs[i].id,
          score: h.score,
          scores: h.scores,
          title: docs[i].title ?? "",
          text: docs[i].text,
          ...(docs[i].metadata ? { metadata: docs[i].metadata } : {}),
        })),
        // Inside a Worker the clock only moves across I/O, so these show I/O waits, not CPU time.
        timing: { loadMs: t1 - t0, encodeMs, scoreMs: t3 - t1 - encodeMs, docsMs: t4 - t3, totalMs: t4 - t0 },
      });
    } catch (e) {
      if (e instanceof FormatError) {
        throw new ApiError(503, "index_unavailable", `index ${tenant}/${index} is unavailable: ${e.message}`, { cause: e });
      }
      throw e;
    }
  };
}
