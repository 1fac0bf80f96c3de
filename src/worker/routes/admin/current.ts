// PUT|GET|HEAD /v1/tenants/{tenant}/indexes/{index}/current: the pointer to the live manifest, moved by a conditional
// write (If-Match: the etag read, or If-None-Match: * for the first publish), so two publishes cannot both win.
import { createRoute, z } from "@hono/zod-openapi";
import { quoted } from "../../../errors";
import type { Context } from "hono";
import { REQUIRE_KEY_ERRORS } from "../../auth/middleware";
import { ApiError, parseClientBody } from "../../http-error";
import { parsePointer, pointerKey, serializePointer } from "../../../format";
import type { App, AppEnv } from "../app";
import { jsonBody, jsonBodyErrors, type JsonBodyOptions } from "../json-body";
import { INDEX_PATH, IndexParams } from "../params";
import { errorResponses } from "../responses";
import { schemaHook } from "../schema-hook";
import { ADMIN_LIMITS } from "./limits";
import { STORED_HEADERS, documentHead, serveStored } from "./stored";

const PATH = `${INDEX_PATH}/current`;
/** Any content type: the publish client sends application/json, curl text or a form type. */
const BODY: JsonBodyOptions = { limit: ADMIN_LIMITS.maxPointerBytes, notJson: "invalid_pointer", types: null };

/** The pointer (src/format/pointer.ts); any other field is 400 `unknown_field`. */
const Pointer = z
  .strictObject(
    {
      version: field("version", "The manifest's version: the first 16 hex characters of its sha256"),
      manifest: field("manifest", "The manifest's R2 key: tenants/<tenant>/indexes/<index>/manifests/<version>.json"),
      publishedAt: field("publishedAt", "ISO 8601 time of publication"),
      sha256: field("sha256", "sha256 of the manifest's bytes (64 hex)"),
    },
    { error: (iss) => (iss.code === "invalid_type" ? "pointer: expected a JSON object" : undefined) },
  )
  .openapi("Pointer");

/** A string field of the pointer (its format is checked by parsePointer). */
function field(name: string, description: string) {
  return z.string({ error: (iss) => `pointer.${name}: expected a string, got ${iss.input === undefined ? "nothing" : quoted(iss.input)}` }).openapi({ description });
}

const getCurrent = createRoute({
  method: "get",
  path: PATH,
  tags: ["publish"],
  summary: "Read the pointer",
  description: "The live version; its etag is the If-Match of the next PUT.",
  security: [{ apiKey: ["publish"] }],
  request: { params: IndexParams },
  responses: {
    200: { description: "The pointer", headers: STORED_HEADERS, content: { "application/json": { schema: Pointer } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, { 404: ["not_found"] }),
  },
});

const putCurrent = createRoute({
  method: "put",
  path: PATH,
  tags: ["publish"],
  summary: "Move the pointer",
  description: "Publishes a version: its manifest must be uploaded first. Send exactly one of If-Match (the etag of GET current) or If-None-Match: * (first publish).",
  security: [{ apiKey: ["publish"] }],
  middleware: [jsonBody(BODY)] as const,
  request: {
    params: IndexParams,
    headers: z.object({
      "if-match": z.string().optional().openapi({ description: "The etag of GET current: the pointer moves only if it is still that one" }),
      "if-none-match": z.string().optional().openapi({ description: "*: the first publish, only if there is no pointer yet" }),
    }),
    body: { required: true, content: { "application/json": { schema: Pointer } } },
  },
  responses: {
    200: { description: "Moved", content: { "application/json": { schema: z.object({ version: z.string(), etag: z.string() }) } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, jsonBodyErrors(BODY), {
      400: ["invalid_pointer", "unknown_field"],
      409: ["manifest_not_found"],
      412: ["conflict"],
      428: ["precondition_required"],
    }),
  },
});

type CurrentContext = Context<AppEnv, string, {
  out: { param: z.output<typeof IndexParams>; header: { "if-match"?: string; "if-none-match"?: string }; json: z.output<typeof Pointer> };
}>;

/** Registers GET, HEAD and PUT of the pointer (the caller puts `requireKey("publish")` in front of them). */
export function registerCurrent(app: App): void {
  app.openapi(getCurrent, (c) => {
    const { tenant, index } = c.req.valid("param");
    return serveStored(c, pointerKey(tenant, index), "application/json");
  });
  documentHead(app, getCurrent);
  app.openapi(putCurrent, (c) => movePointer(c), schemaHook(Pointer, () => "invalid_pointer"));
}

/** The conditional write of a valid pointer to an uploaded manifest; 412 `conflict` when another write won. */
async function movePointer(c: CurrentContext) {
  const { tenant, index } = c.req.valid("param");
  const onlyIf = condition(c.req.header("if-match"), c.req.header("if-none-match"));
  const pointer = parseClientBody("invalid_pointer", () => parsePointer(c.req.valid("json"), { tenant, index }));
  if (!(await c.env.INDEXES.head(pointer.manifest))) {
    throw new ApiError(409, "manifest_not_found", `manifests/${pointer.version}.json does not exist: upload it before moving the pointer`);
  }
  const put = await c.env.INDEXES.put(pointerKey(tenant, index), serializePointer(pointer), { httpMetadata: { contentType: "application/json" }, onlyIf });
  if (!put) {
    const cond = "etagMatches" in onlyIf ? `If-Match ${c.req.header("if-match")}` : "If-None-Match *";
    throw new ApiError(412, "conflict", `current changed since it was read (${cond} did not hold): another publish or rollback won the race`);
  }
  return c.json({ version: pointer.version, etag: put.httpEtag }, 200, { etag: put.httpEtag });
}

/** R2's condition for exactly one of If-Match / If-None-Match: *; 428 `precondition_required` otherwise. */
function condition(ifMatch: string | undefined, ifNoneMatch: string | undefined): R2Conditional {
  if ((ifMatch === undefined) === (ifNoneMatch === undefined) || (ifNoneMatch !== undefined && ifNoneMatch.trim() !== "*")) {
    throw new ApiError(428, "precondition_required", "send exactly one of If-Match: <etag of GET current> or If-None-Match: * (first publish)");
  }
  return ifMatch !== undefined ? { etagMatches: bareEtag(ifMatch) } : { etagDoesNotMatch: "*" };
}

/** `"abc"`, `W/"abc"` or `abc` -> `abc` (R2's `onlyIf` compares bare etags). */
function bareEtag(tag: string): string {
  return tag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}
