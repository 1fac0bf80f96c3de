// GET /v1/tenants/{tenant}/indexes: a tenant's published indexes, a page at a time (R2 list with a prefix and a
// delimiter, its cursor passed through), each with its live version, counts and build date (pointer + manifest,
// both small reads; a manifest summary is kept in the isolate, versions being immutable).
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { REQUIRE_KEY_ERRORS } from "../auth/middleware";
import type { Env } from "../env";
import { ApiError } from "../http-error";
import { FormatError, NAME_PATTERN } from "../../format";
import { loadManifest, readPointer } from "../store/manifest-reader";
import type { IndexRegistry } from "../store/registry";
import { executionCtx, requestStorage, type Storage } from "../store/storage";
import type { App, AppEnv } from "./app";
import { IndexParams } from "./params";
import { documentHead } from "./admin/stored";
import { errorResponses } from "./responses";
import type { ByteCache } from "../store/byte-cache";

/** Indexes per page: default and most. */
export const LIST_LIMITS = { defaultLimit: 20, maxLimit: 100 } as const;

const limitMessage = (input: unknown) => `"limit" must be an integer from 1 to ${LIST_LIMITS.maxLimit}, got ${JSON.stringify(input)}`;

const ListQuery = z.object({
  limit: z.coerce
    .number({ error: (iss) => limitMessage(iss.input) })
    .int({ error: (iss) => limitMessage(iss.input) })
    .min(1, { error: (iss) => limitMessage(iss.input) })
    .max(LIST_LIMITS.maxLimit, { error: (iss) => limitMessage(iss.input) })
    .default(LIST_LIMITS.defaultLimit)
    .openapi({ description: `Indexes per page, 1 to ${LIST_LIMITS.maxLimit} (default ${LIST_LIMITS.defaultLimit}).`, example: 20 }),
  cursor: z.string().max(4096, { error: "\"cursor\" is too long" }).optional().openapi({ description: "The `cursor` of the previous page." }),
});

const IndexSummary = z
  .object({
    index: z.string(),
    version: z.string().openapi({ description: "The live version (16 hex)." }),
    publishedAt: z.string().openapi({ description: "When the live version was published (ISO 8601)." }),
    createdAt: z.string().openapi({ description: "When the live version was built (ISO 8601); for an incrementally updated version, its base (`delta.updatedAt`: the last update)." }),
    documents: z.number().openapi({ description: "Documents a search can return (deleted ones left out)." }),
    passages: z.number().openapi({ description: "Passages indexed, the delta's included (a deleted document's until `i3 compact`)." }),
    delta: z
      .object({
        documents: z.number().openapi({ description: "Documents added or replaced since the base." }),
        deleted: z.number().openapi({ description: "Base documents deleted or replaced (tombstones)." }),
        updates: z.number().openapi({ description: "Incremental updates since the base was built." }),
        updatedAt: z.string().openapi({ description: "When the last update was built (ISO 8601)." }),
      })
      .optional()
      .openapi({ description: "Present on a version made by incremental updates (`i3 build --base`); `i3 compact` folds it into a new base." }),
    manifest: z.string().openapi({ description: "The manifest format version, major.minor." }),
    mode: z.enum(["dense", "lexical", "hybrid"]).openapi({ description: "The search mode a request that names none gets." }),
    fields: z
      .array(z.object({ name: z.string(), type: z.enum(["int", "date", "keyword", "keyword[]"]) }))
      .openapi({ description: "The fields a `filter` may name (`i3 build --fields`); empty: none." }),
  })
  .openapi("IndexSummary");

const ListResponse = z
  .object({
    tenant: z.string(),
    indexes: z.array(IndexSummary).openapi({ description: "By name. Indexes with no live version (never published, or unpublished) are left out; those whose live version cannot be read are in `unavailable`." }),
    cursor: z.string().optional().openapi({ description: "Present when there are more: pass it as `cursor` for the next page." }),
    unavailable: z.array(z.object({ index: z.string(), error: z.string() })).optional().openapi({ description: "Indexes whose pointer or manifest is corrupt (code `index_unavailable` when searched)." }),
  })
  .openapi("IndexList");

const route = createRoute({
  method: "get",
  path: "/v1/tenants/{tenant}/indexes",
  tags: ["search"],
  summary: "List a tenant's indexes",
  description: "The tenant's published indexes with their live version, counts and build date, a page at a time. Any key of the tenant with the search role.",
  security: [{ apiKey: ["search"] }],
  request: { params: IndexParams.pick({ tenant: true }), query: ListQuery },
  responses: {
    200: { description: "A page of indexes", content: { "application/json": { schema: ListResponse } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, { 400: ["invalid_request"] }),
  },
});

const oneRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenant}/indexes/{index}",
  tags: ["search"],
  summary: "Describe an index",
  description: "The index's live version, counts, build date, default mode and filterable fields (what the search page builds its filters from). Any key of the tenant with the search role.",
  security: [{ apiKey: ["search"] }],
  request: { params: IndexParams },
  responses: {
    200: { description: "The index", content: { "application/json": { schema: IndexSummary.extend({ tenant: z.string() }) } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, { 404: ["index_not_found"], 503: ["index_unavailable"] }),
  },
});

type ListContext = Context<AppEnv, string, { out: { param: { tenant: string }; query: z.output<typeof ListQuery> } }>;

/** Registers the route (the caller puts `requireKey("search")` in front of it). */
export function registerIndexList(app: App, registryFor: (env: Env) => IndexRegistry): void {
  app.openapi(route, async (c) => c.json(await listIndexes(c, registryFor(c.env).cache), 200));
  documentHead(app, route);
  app.openapi(oneRoute, async (c) => {
    const { tenant, index } = c.req.valid("param"); // names checked by IndexParams
    const summary = await summaryOf(requestStorage(c.env, executionCtx(c)), registryFor(c.env).cache, tenant, index);
    if (!summary) throw new ApiError(404, "index_not_found", `no index ${tenant}/${index}`);
    if ("error" in summary) throw new ApiError(503, "index_unavailable", `index ${tenant}/${index} is unavailable: its live version cannot be read`);
    return c.json({ tenant, ...summary }, 200);
  });
  documentHead(app, oneRoute);
}

async function listIndexes(c: ListContext, cache: ByteCache): Promise<z.output<typeof ListResponse>> {
  const { tenant } = c.req.valid("param"); // checked by IndexParams
  const { limit, cursor } = c.req.valid("query");
  const storage = requestStorage(c.env, executionCtx(c));
  const prefix = `tenants/${tenant}/indexes/`;
  const listed = await storage.bucket.list({ prefix, delimiter: "/", limit, cursor }).catch((e: unknown) => {
    // A cursor R2 does not recognise is the client's mistake, not ours.
    if (cursor) throw new ApiError(400, "invalid_request", "\"cursor\" is not one this list returned");
    throw e;
  });
  const names = listed.delimitedPrefixes.map((p) => p.slice(prefix.length, -1)).filter((n) => NAME_PATTERN.test(n)).sort();
  const rows = await Promise.all(names.map((index) => summaryOf(storage, cache, tenant, index)));
  const indexes = rows.filter((r): r is z.output<typeof IndexSummary> => r !== null && !("error" in r));
  const unavailable = rows.filter((r): r is { index: string; error: string } => r !== null && "error" in r);
  return { tenant, indexes, ...(unavailable.length ? { unavailable } : {}), ...(listed.truncated ? { cursor: listed.cursor } : {}) };
}

/** An index's live version and what its manifest says; null when it has none; `error` when it cannot be read. */
async function summaryOf(s: Storage, cache: ByteCache, tenant: string, index: string): Promise<z.output<typeof IndexSummary> | { index: string; error: string } | null> {
  try {
    const pointer = await readPointer(s, tenant, index);
    if (!pointer) return null;
    const key = `summary:${pointer.manifest}:${pointer.sha256}`;
    let summary = cache.get<Omit<z.output<typeof IndexSummary>, "publishedAt">>(key);
    if (!summary) {
      const { manifest: m } = await loadManifest(s, tenant, index, pointer);
      const deleted = m.tombstones?.count ?? 0;
      const d = m.delta;
      summary = {
        index, version: pointer.version, createdAt: m.createdAt,
        documents: m.corpus.documents - deleted + (d?.documents ?? 0), passages: m.corpus.passages + (d?.passages ?? 0),
        ...(d || deleted ? { delta: { documents: d?.documents ?? 0, deleted, updates: d?.updates ?? 0, updatedAt: d?.updatedAt ?? m.createdAt } } : {}),
        manifest: `${m.version.major}.${m.version.minor}`, mode: m.lexical?.defaultMode ?? "dense",
        fields: (m.fields?.schema ?? []).map((f) => ({ name: f.name, type: f.type })),
      };
      cache.set(key, summary, 256);
    }
    return { ...summary, publishedAt: pointer.publishedAt };
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    console.error(`index list: ${tenant}/${index}: ${e.code}: ${e.message}`);
    return { index, error: e.code };
  }
}

