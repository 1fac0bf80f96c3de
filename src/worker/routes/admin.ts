// Publishing through the worker: the admin routes `i3 publish --to worker` writes through, behind a publish key.
//   PUT|GET|HEAD /v1/tenants/:tenant/indexes/:index/objects/<sha256>.<ext>   content-addressed, sha256 checked
//   PUT|GET|HEAD /v1/tenants/:tenant/indexes/:index/manifests/<version>      version = sha256(body)[0:16]
//   PUT|GET|HEAD /v1/tenants/:tenant/indexes/:index/current                  conditional (If-Match / If-None-Match: *)
// Every key is built by src/format's key functions from validated names, so nothing leaves the tenant's prefix.
import type { Context, Hono } from "hono";
import type { Env } from "../env";
import { ApiError } from "../http-error";
import {
  isFormatError, manifestKey, objectKey, parseManifest, parsePointer, pointerKey, sha256Hex, validateObjectPath, versionIdOf,
} from "../../format";

/** Limits of the admin API. */
export const ADMIN_LIMITS = {
  /** Bytes of one object: R2's single-put limit. Objects stream to R2 (never held in memory); the platform's request
   *  size limit (100 MB on the Free and Pro plans) applies before this one. */
  maxObjectBytes: 5 * 1024 * 1024 * 1024,
  /** Bytes of a manifest (parsed in memory). */
  maxManifestBytes: 16 * 1024 * 1024,
  /** Bytes of a pointer body. */
  maxPointerBytes: 4 * 1024,
  /** Missing objects named in a 409 `missing_objects`. */
  missingListed: 5,
  /** Concurrent HEADs while checking a manifest's objects. */
  headConcurrency: 16,
} as const;

const PREFIX = "/v1/tenants/:tenant/indexes/:index";

type C = Context<{ Bindings: Env }>;

/** Runs `f`, turning a FormatError from a key function or parser into a 400 ApiError with `code`. */
function format<T>(code: "invalid_name" | "invalid_object" | "invalid_manifest" | "invalid_pointer", f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isFormatError(e)) throw new ApiError(400, e.code === "invalid_name" ? "invalid_name" : code, e.message, { cause: e });
    throw e;
  }
}

const names = (c: C) => ({ tenant: c.req.param("tenant") ?? "", index: c.req.param("index") ?? "" });

/** The `:version` of a manifest route (`<version>` or `<version>.json`). */
const versionOf = (c: C) => (c.req.param("version") ?? "").replace(/\.json$/, "");

/** A body as strict UTF-8 JSON; 400 with `code` otherwise. */
function jsonBody(bytes: Uint8Array, code: "invalid_manifest" | "invalid_pointer", what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (e) {
    throw new ApiError(400, code, `the ${what} is not JSON: ${(e as Error).message}`);
  }
}

/** The request body, at most `limit` bytes (413 `payload_too_large` otherwise). */
async function readBody(c: C, limit: number): Promise<Uint8Array> {
  const declared = Number(c.req.header("content-length") ?? NaN);
  if (declared > limit) throw new ApiError(413, "payload_too_large", `the body has ${declared} bytes; the limit is ${limit}`);
  const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
  if (bytes.byteLength > limit) throw new ApiError(413, "payload_too_large", `the body has ${bytes.byteLength} bytes; the limit is ${limit}`);
  return bytes;
}

/** An R2 object (or its head, for HEAD) as a response; 404 `not_found` when absent. */
async function serve(c: C, key: string, contentType: string): Promise<Response> {
  const obj = c.req.method === "HEAD" ? await c.env.INDEXES.head(key) : await c.env.INDEXES.get(key);
  if (!obj) throw new ApiError(404, "not_found", `${key.replace(/^tenants\/[^/]+\/indexes\/[^/]+\//, "")} does not exist`);
  const headers = {
    "content-type": contentType,
    "content-length": String(obj.size),
    etag: obj.httpEtag,
    "last-modified": obj.uploaded.toUTCString(),
  };
  return new Response("body" in obj ? (obj as R2ObjectBody).body : null, { status: 200, headers });
}

/** `"abc"`, `W/"abc"` or `abc` -> `abc` (R2's `onlyIf` compares bare etags). */
function bareEtag(tag: string): string {
  return tag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

/** Registers the admin routes (the caller puts `requireKey("publish")` in front of them). */
export function registerAdminRoutes(app: Hono<{ Bindings: Env }>): void {
  const objectPath = (c: C) => format("invalid_name", () => validateObjectPath(`objects/${c.req.param("name") ?? ""}`));

  app.get(`${PREFIX}/objects/:name`, (c) => {
    const { tenant, index } = names(c);
    const key = format("invalid_name", () => objectKey(tenant, index, objectPath(c)));
    return serve(c, key, "application/octet-stream");
  });

  app.put(`${PREFIX}/objects/:name`, async (c) => {
    const { tenant, index } = names(c);
    const path = objectPath(c);
    const key = format("invalid_name", () => objectKey(tenant, index, path));
    const want = path.slice("objects/".length, "objects/".length + 64);
    const size = Number(c.req.header("content-length") ?? NaN);
    if (!Number.isSafeInteger(size) || size < 0) throw new ApiError(411, "length_required", "an object upload needs a Content-Length header");
    if (size > ADMIN_LIMITS.maxObjectBytes) throw new ApiError(413, "payload_too_large", `the body has ${size} bytes; the limit is ${ADMIN_LIMITS.maxObjectBytes}`);
    // Content-addressed: an object already there under this name has the name's bytes (R2 checked them).
    const existing = await c.env.INDEXES.head(key);
    if (existing && existing.size === size) {
      await c.req.raw.body?.cancel();
      return c.json({ key: path, size, created: false }, 200, { etag: existing.httpEtag });
    }
    // Streamed: R2 hashes the body as it arrives and refuses it when the digest is not the name's, so the bytes are
    // never held in memory and nothing is stored under a wrong name.
    const body = (c.req.raw.body ?? new Blob([]).stream()).pipeThrough(new FixedLengthStream(size));
    let put: R2Object | null;
    try {
      put = await c.env.INDEXES.put(key, body, { httpMetadata: { contentType: "application/octet-stream" }, sha256: want });
    } catch (e) {
      if (/sha-?256|checksum|digest/i.test(String(e))) {
        throw new ApiError(400, "checksum_mismatch", `${path}: the body's sha256 is not the name's ${want}`, { cause: e });
      }
      throw new ApiError(400, "invalid_object", `${path}: the body could not be stored (${String(e)}); is Content-Length right?`, { cause: e });
    }
    return c.json({ key: path, size, created: true }, 201, { etag: put!.httpEtag });
  });

  app.get(`${PREFIX}/manifests/:version`, (c) => {
    const { tenant, index } = names(c);
    const version = versionOf(c);
    return serve(c, format("invalid_name", () => manifestKey(tenant, index, version)), "application/json");
  });

  app.put(`${PREFIX}/manifests/:version`, async (c) => {
    const { tenant, index } = names(c);
    const version = versionOf(c);
    const key = format("invalid_name", () => manifestKey(tenant, index, version));
    const bytes = await readBody(c, ADMIN_LIMITS.maxManifestBytes);
    const sha256 = await sha256Hex(bytes);
    if (versionIdOf(sha256) !== version) {
      throw new ApiError(400, "checksum_mismatch", `the manifest's sha256 is ${sha256}: its version is ${versionIdOf(sha256)}, not ${version}`);
    }
    const json = jsonBody(bytes, "invalid_manifest", "manifest");
    const manifest = format("invalid_manifest", () => parseManifest(json));
    const missing: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < manifest.objects.length) {
        const o = manifest.objects[next++];
        if (!(await c.env.INDEXES.head(objectKey(tenant, index, o.path)))) missing.push(o.path);
      }
    };
    await Promise.all(Array.from({ length: ADMIN_LIMITS.headConcurrency }, worker));
    if (missing.length > 0) {
      missing.sort();
      const listed = missing.slice(0, ADMIN_LIMITS.missingListed).join(", ");
      const more = missing.length > ADMIN_LIMITS.missingListed ? ` and ${missing.length - ADMIN_LIMITS.missingListed} more` : "";
      throw new ApiError(409, "missing_objects", `upload the manifest's objects first; ${missing.length} missing: ${listed}${more}`);
    }
    const put = await c.env.INDEXES.put(key, bytes, { httpMetadata: { contentType: "application/json" }, sha256 });
    return c.json({ version, sha256, objects: manifest.objects.length }, 201, { etag: put!.httpEtag });
  });

  app.get(`${PREFIX}/current`, (c) => {
    const { tenant, index } = names(c);
    return serve(c, format("invalid_name", () => pointerKey(tenant, index)), "application/json");
  });

  app.put(`${PREFIX}/current`, async (c) => {
    const { tenant, index } = names(c);
    const key = format("invalid_name", () => pointerKey(tenant, index));
    const ifMatch = c.req.header("if-match");
    const ifNoneMatch = c.req.header("if-none-match");
    if ((ifMatch === undefined) === (ifNoneMatch === undefined) || (ifNoneMatch !== undefined && ifNoneMatch.trim() !== "*")) {
      throw new ApiError(428, "precondition_required", "send exactly one of If-Match: <etag of GET current> or If-None-Match: * (first publish)");
    }
    const bytes = await readBody(c, ADMIN_LIMITS.maxPointerBytes);
    const json = jsonBody(bytes, "invalid_pointer", "pointer");
    const pointer = format("invalid_pointer", () => parsePointer(json, { tenant, index }));
    if (!(await c.env.INDEXES.head(pointer.manifest))) {
      throw new ApiError(409, "manifest_not_found", `manifests/${pointer.version}.json does not exist: upload it before moving the pointer`);
    }
    const onlyIf: R2Conditional = ifMatch !== undefined ? { etagMatches: bareEtag(ifMatch) } : { etagDoesNotMatch: "*" };
    const put = await c.env.INDEXES.put(key, bytes, { httpMetadata: { contentType: "application/json" }, onlyIf });
    if (!put) {
      const cond = ifMatch !== undefined ? `If-Match ${ifMatch}` : "If-None-Match *";
      throw new ApiError(412, "conflict", `current changed since it was read (${cond} did not hold): another publish or rollback won the race`);
    }
    return c.json({ version: pointer.version, etag: put.httpEtag }, 200, { etag: put.httpEtag });
  });
}
