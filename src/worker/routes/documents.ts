// GET /v1/tenants/{tenant}/indexes/{index}/documents/{id}: one document of the live version, by its corpus id, behind
// a key with the search role. The id index (src/format/id-index.ts) finds its ordinal with one small read.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { REQUIRE_KEY_ERRORS } from "../auth/middleware";
import type { Env } from "../env";
import { ApiError } from "../http-error";
import { FormatError } from "../../format";
import { ordinalOf } from "../store/doc-ids";
import { fetchDocs } from "../store/docs";
import type { IndexRegistry } from "../store/registry";
import { executionCtx, requestStorage } from "../store/storage";
import type { App, AppEnv } from "./app";
import { INDEX_PATH, IndexParams } from "./params";
import { documentHead } from "./admin/stored";
import { errorResponses } from "./responses";
import { documentFields } from "./search";

/** Longest document id the route accepts (UTF-16 code units, after percent-decoding). */
export const MAX_DOCUMENT_ID_CHARS = 1024;

const DocumentParams = IndexParams.extend({
  id: z
    .string()
    .min(1)
    .max(MAX_DOCUMENT_ID_CHARS, { error: `document id: at most ${MAX_DOCUMENT_ID_CHARS} characters` })
    .openapi({ description: "The document's id in the corpus, percent-encoded (a \"/\" in an id is %2F).", example: "4983" }),
});

const DocumentResponse = z
  .object({
    tenant: z.string(),
    index: z.string(),
    version: z.string().openapi({ description: "The index version that answered (16 hex)." }),
    document: z.object({
      id: z.string(),
      title: z.string().openapi({ description: "\"\" when it has none." }),
      text: z.string(),
      metadata: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi("DocumentResponse");

const route = createRoute({
  method: "get",
  path: `${INDEX_PATH}/documents/{id}`,
  tags: ["search"],
  summary: "One document by id",
  description: "The document of the live version with this corpus id. Indexes built before manifest 2.1 have no id index: 404 `not_supported` (rebuild and publish to enable it).",
  security: [{ apiKey: ["search"] }],
  request: { params: DocumentParams },
  responses: {
    200: { description: "The document", content: { "application/json": { schema: DocumentResponse } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, { 404: ["index_not_found", "document_not_found", "not_supported"], 503: ["index_unavailable"] }),
  },
});

type DocContext = Context<AppEnv, string, { out: { param: { tenant: string; index: string; id: string } } }>;

/** Registers the route (the caller puts `requireKey("search")` in front of it). */
export function registerDocuments(app: App, registryFor: (env: Env) => IndexRegistry): void {
  app.openapi(route, async (c) => c.json(await getDocument(c, registryFor(c.env)), 200));
  documentHead(app, route);
}

async function getDocument(c: DocContext, registry: IndexRegistry) {
  const { tenant, index, id } = c.req.valid("param");
  const storage = requestStorage(c.env, executionCtx(c));
  const idx = await registry.get(storage, tenant, index);
  const ordinal = await ordinalOf(storage, registry.cache, idx, id);
  if (ordinal === undefined) {
    throw new ApiError(404, "not_supported", `index ${tenant}/${index} version ${idx.version} was built without an id index (manifest ${idx.manifest.version.major}.${idx.manifest.version.minor}; 2.1 has one): rebuild and publish it to fetch documents by id`);
  }
  if (ordinal === null) throw new ApiError(404, "document_not_found", `index ${tenant}/${index} has no document ${JSON.stringify(id.slice(0, 200))}`);
  const [doc] = await fetchDocs(storage, registry.cache, idx, [ordinal]);
  if (doc.id !== id) throw new FormatError("invalid_object", `id index of ${tenant}/${index} maps a document id to ordinal ${ordinal}, which holds another id`);
  const { title, text, ...rest } = documentFields(doc);
  return { tenant, index, version: idx.version, document: { ...rest, title: title ?? "", text: text ?? "" } };
}
