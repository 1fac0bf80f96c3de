// PUT|GET|HEAD /v1/tenants/{tenant}/indexes/{index}/manifests/{version}: one manifest per version, version =
// sha256(body)[0:16]. A manifest is accepted once every object it names is stored.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { REQUIRE_KEY_ERRORS } from "../../auth/middleware";
import { ApiError, parseClientBody } from "../../http-error";
import { FORMAT_NAME, MANIFEST_VERSION, indexPrefix, manifestKey, objectKey, parseManifest, sha256Hex, versionIdOf, type Manifest } from "../../../format";
import type { App, AppEnv } from "../app";
import { INDEX_PATH, ManifestParams, versionOf } from "../params";
import { readBodyWithin } from "../read-body";
import { errorResponses } from "../responses";
import { ADMIN_LIMITS } from "./limits";
import { STORED_HEADERS, documentHead, serveStored } from "./stored";

const PATH = `${INDEX_PATH}/manifests/{version}`;

/** The document's view of a manifest: the index format's, which `parseManifest` (src/format/manifest.ts) checks. */
const ManifestBody = z
  .object({ format: z.literal(FORMAT_NAME), version: z.object({ major: z.number(), minor: z.number() }) })
  .catchall(z.unknown())
  .openapi("Manifest", {
    description: `The manifest of the index format "${FORMAT_NAME}" ${MANIFEST_VERSION.major}.${MANIFEST_VERSION.minor} (manifest.json of \`i3 build\`): corpus, vectors, model, passages, partitions, docs, lexical and search sections and the objects they name. The worker checks it with the format's own validator (src/format/manifest.ts); the bytes are stored as sent.`,
  });

const getManifest = createRoute({
  method: "get",
  path: PATH,
  tags: ["publish"],
  summary: "Read a manifest",
  security: [{ apiKey: ["publish"] }],
  request: { params: ManifestParams },
  responses: {
    200: { description: "The manifest, as uploaded", headers: STORED_HEADERS, content: { "application/json": { schema: ManifestBody } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, { 404: ["not_found"] }),
  },
});

const putManifest = createRoute({
  method: "put",
  path: PATH,
  tags: ["publish"],
  summary: "Upload a manifest",
  description: "The version in the path must be the first 16 hex characters of the body's sha256, every object the manifest names must be uploaded first (with the size the manifest gives it), and the index must be within the limits (README: objects, bytes per object, bytes in all).",
  security: [{ apiKey: ["publish"] }],
  // A reference, not the zod schema: the format's validator checks the body in the handler, after its sha256.
  request: { params: ManifestParams, body: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/Manifest" } } } } },
  responses: {
    201: {
      description: "Stored",
      content: { "application/json": { schema: z.object({ version: z.string(), sha256: z.string(), objects: z.number().openapi({ description: "objects the manifest names" }) }) } },
    },
    ...errorResponses(REQUIRE_KEY_ERRORS, {
      400: ["checksum_mismatch", "invalid_manifest"],
      409: ["missing_objects"],
      413: ["payload_too_large"],
    }),
  },
});

type ManifestContext = Context<AppEnv, string, { out: { param: z.output<typeof ManifestParams> } }>;

/** Registers GET, HEAD and PUT of manifests (the caller puts `requireKey("publish")` in front of them). */
export function registerManifests(app: App): void {
  app.openapi(getManifest, (c) => {
    const { tenant, index, version } = c.req.valid("param");
    return serveStored(c, manifestKey(tenant, index, versionOf(version)), "application/json");
  });
  documentHead(app, getManifest);
  app.openapi(putManifest, (c) => storeManifest(c));
}

/** The upload: version = sha256 of the bytes, a valid manifest, every object stored; then the bytes as sent. */
async function storeManifest(c: ManifestContext) {
  const { tenant, index } = c.req.valid("param");
  const version = versionOf(c.req.valid("param").version);
  const key = manifestKey(tenant, index, version);
  const bytes = await readBodyWithin(c.req.raw, ADMIN_LIMITS.maxManifestBytes);
  const sha256 = await sha256Hex(bytes);
  if (versionIdOf(sha256) !== version) {
    throw new ApiError(400, "checksum_mismatch", `the manifest's sha256 is ${sha256}: its version is ${versionIdOf(sha256)}, not ${version}`);
  }
  const manifest = parseClientBody("invalid_manifest", () => parseManifest(jsonOf(bytes)));
  await requireObjects(c.env.INDEXES, tenant, index, manifest);
  const put = await c.env.INDEXES.put(key, bytes, { httpMetadata: { contentType: "application/json" }, sha256 });
  return c.json({ version, sha256, objects: manifest.objects.length }, 201, { etag: put!.httpEtag });
}


/** The manifest's bytes as strict UTF-8 JSON; 400 `invalid_manifest` otherwise. */
function jsonOf(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (e) {
    throw new ApiError(400, "invalid_manifest", `the manifest is not JSON: ${(e as Error).message}`);
  }
}

/**
 * 409 `missing_objects` unless every object of the manifest is stored with the size the manifest gives it: the worker
 * later reads no object whose size the manifest does not bound. A small manifest is checked with HEADs (a few at a
 * time); a large one by listing the index's objects (1,000 a call), so a 1M-passage index (thousands of objects)
 * stays within a request's subrequest limit.
 */
async function requireObjects(bucket: R2Bucket, tenant: string, index: string, manifest: Manifest): Promise<void> {
  const sizes = manifest.objects.length > ADMIN_LIMITS.maxHeads ? await storedSizes(bucket, tenant, index) : null;
  const missing: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < manifest.objects.length) {
      const o = manifest.objects[next++];
      const size = sizes ? sizes.get(o.path) : (await bucket.head(objectKey(tenant, index, o.path)))?.size;
      if (size === undefined) missing.push(o.path);
      else if (size !== o.bytes) missing.push(`${o.path} (stored with ${size} bytes, not ${o.bytes})`);
    }
  };
  await Promise.all(Array.from({ length: ADMIN_LIMITS.headConcurrency }, worker));
  if (missing.length === 0) return;
  missing.sort();
  const listed = missing.slice(0, ADMIN_LIMITS.missingListed).join(", ");
  const more = missing.length > ADMIN_LIMITS.missingListed ? ` and ${missing.length - ADMIN_LIMITS.missingListed} more` : "";
  throw new ApiError(409, "missing_objects", `upload the manifest's objects first; ${missing.length} missing or of another size: ${listed}${more}`);
}

/** Size of every object stored under the index (R2 list, 1,000 a call; at most ADMIN_LIMITS.maxListCalls calls). */
async function storedSizes(bucket: R2Bucket, tenant: string, index: string): Promise<Map<string, number>> {
  const prefix = `${indexPrefix(tenant, index)}objects/`;
  const sizes = new Map<string, number>();
  let cursor: string | undefined;
  for (let calls = 0; ; calls++) {
    if (calls === ADMIN_LIMITS.maxListCalls) {
      throw new ApiError(409, "missing_objects", `the index stores more than ${calls * 1000} objects: remove unreferenced ones first (i3 gc)`);
    }
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    for (const o of page.objects) sizes.set(`objects/${o.key.slice(prefix.length)}`, o.size);
    if (!page.truncated) return sizes;
    cursor = page.cursor;
  }
}
