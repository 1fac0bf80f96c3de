// PUT|GET|HEAD /v1/tenants/{tenant}/indexes/{index}/objects/{sha256}.{ext}: content-addressed index objects.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { REQUIRE_KEY_ERRORS } from "../../auth/middleware";
import { ApiError } from "../../http-error";
import { objectKey } from "../../../format";
import type { App, AppEnv } from "../app";
import { INDEX_PATH, ObjectParams } from "../params";
import { errorResponses } from "../responses";
import { ADMIN_LIMITS } from "./limits";
import { STORED_HEADERS, documentHead, serveStored } from "./stored";

const PATH = `${INDEX_PATH}/objects/{name}`;
const binary = { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } };

const getObject = createRoute({
  method: "get",
  path: PATH,
  tags: ["publish"],
  summary: "Read an object",
  security: [{ apiKey: ["publish"] }],
  request: { params: ObjectParams },
  responses: {
    200: { description: "The object's bytes", headers: STORED_HEADERS, content: binary },
    ...errorResponses(REQUIRE_KEY_ERRORS, { 404: ["not_found"] }),
  },
});

const PutObjectResult = z.object({
  key: z.string().openapi({ description: "objects/<sha256>.<ext>" }),
  size: z.number(),
  created: z.boolean().openapi({ description: "false when the object was already there (same name, same bytes)" }),
});

const putObject = createRoute({
  method: "put",
  path: PATH,
  tags: ["publish"],
  summary: "Upload an object",
  description: "Streams the body to R2, which refuses it unless its sha256 is the name's. Needs Content-Length. Idempotent.",
  security: [{ apiKey: ["publish"] }],
  request: { params: ObjectParams, body: { required: true, content: binary } },
  responses: {
    200: { description: "Already stored", content: { "application/json": { schema: PutObjectResult } } },
    201: { description: "Stored", content: { "application/json": { schema: PutObjectResult } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, {
      400: ["checksum_mismatch", "invalid_object"],
      411: ["length_required"],
      413: ["payload_too_large"],
    }),
  },
});

type ObjectContext = Context<AppEnv, string, { out: { param: z.output<typeof ObjectParams> } }>;

/** Registers GET, HEAD and PUT of objects (the caller puts `requireKey("publish")` in front of them). */
export function registerObjects(app: App): void {
  app.openapi(getObject, (c) => {
    const { tenant, index, name } = c.req.valid("param");
    return serveStored(c, objectKey(tenant, index, `objects/${name}`), "application/octet-stream");
  });
  documentHead(app, getObject);
  app.openapi(putObject, (c) => storeObject(c));
}

/** The upload: skipped when the object is there (content-addressed: same name, same bytes), else streamed to R2. */
async function storeObject(c: ObjectContext) {
  const { tenant, index, name } = c.req.valid("param");
  const path = `objects/${name}`;
  const key = objectKey(tenant, index, path);
  const size = declaredLength(c.req.header("content-length"));
  const existing = await c.env.INDEXES.head(key);
  if (existing && existing.size === size) {
    await c.req.raw.body?.cancel();
    return c.json({ key: path, size, created: false }, 200, { etag: existing.httpEtag });
  }
  const put = await streamToR2(c.env.INDEXES, c.req.raw.body, key, path, size);
  return c.json({ key: path, size, created: true }, 201, { etag: put.httpEtag });
}

/** The Content-Length of an upload: 411 without one, 413 above R2's single-put limit. */
function declaredLength(header: string | undefined): number {
  const size = Number(header ?? NaN);
  if (!Number.isSafeInteger(size) || size < 0) throw new ApiError(411, "length_required", "an object upload needs a Content-Length header");
  if (size > ADMIN_LIMITS.maxObjectBytes) throw new ApiError(413, "payload_too_large", `the body has ${size} bytes; the limit is ${ADMIN_LIMITS.maxObjectBytes}`);
  return size;
}

/**
 * Streams the body to R2, which hashes it as it arrives and refuses it when the digest is not the name's: the bytes
 * are never held in memory and nothing is stored under a wrong name.
 */
async function streamToR2(bucket: R2Bucket, body: ReadableStream | null, key: string, path: string, size: number): Promise<R2Object> {
  const want = path.slice("objects/".length, "objects/".length + 64);
  const stream = (body ?? new Blob([]).stream()).pipeThrough(new FixedLengthStream(size));
  try {
    return (await bucket.put(key, stream, { httpMetadata: { contentType: "application/octet-stream" }, sha256: want }))!;
  } catch (e) {
    if (/sha-?256|checksum|digest/i.test(String(e))) {
      throw new ApiError(400, "checksum_mismatch", `${path}: the body's sha256 is not the name's ${want}`, { cause: e });
    }
    throw new ApiError(400, "invalid_object", `${path}: the body could not be stored (${String(e)}); is Content-Length right?`, { cause: e });
  }
}
