import { FormatError, objectKey, verifyObject, type ObjectRef } from "../../format";
import { cachedLoad, type ByteCache } from "./byte-cache";
import { coloKey, type Storage } from "./storage";

/** A byte range of an object. */
export type ByteRange = { offset: number; length: number };

/**
 * The size an object must have before its body is read: exactly `bytes` (an object the manifest lists), or at most
 * `max` (the pointer, a manifest: src/format/limits.ts).
 */
export type Expected = { bytes: number } | { max: number };

/**
 * Reads an R2 object (or a byte range of it) as bytes; null when the key does not exist. The object's size (R2's
 * `size`, the whole object's even for a range read) is compared with `expected` before its body is read (a wrong one
 * is cancelled unread), and a range must lie inside the expected size, so no read returns more than the manifest or
 * the limits allow. Throws FormatError: a wrong size
 * (`truncated`), too large (`invalid_object`), an R2 failure or a short body (`unreadable`).
 *
 * @example
 * const bytes = await getBytes(s, pointerKey(tenant, index), { max: INDEX_LIMITS.maxPointerBytes });
 */
export async function getBytes(s: Storage, key: string, expected: Expected, range?: ByteRange): Promise<Uint8Array | null> {
  if (range) inside(key, range, expected);
  if (key.endsWith("/current")) s.stats.pointer++;
  else s.stats.r2++;
  return s.slot(async () => {
    const obj = await unreadable(key, () => s.bucket.get(key, range ? { range } : undefined));
    if (!obj) return null;
    const problem = sizeProblem(key, obj.size, expected);
    if (problem) {
      await obj.body.cancel().catch(() => {});
      throw problem;
    }
    const bytes = new Uint8Array(await unreadable(key, () => obj.arrayBuffer()));
    const want = range ? range.length : obj.size;
    // R2 checks what it stores: a short body is the transport's failure, not the object's (tried again sooner).
    if (bytes.byteLength !== want) throw new FormatError("unreadable", `${key}: expected ${want} bytes, R2 returned ${bytes.byteLength}`);
    return bytes;
  });
}

/** The error of an object whose size is not the expected one; null when it is. */
function sizeProblem(key: string, size: number, expected: Expected): FormatError | null {
  if ("bytes" in expected) {
    return size === expected.bytes ? null : new FormatError("truncated", `${key}: expected ${expected.bytes} bytes, R2 has ${size}`);
  }
  return size <= expected.max ? null : new FormatError("invalid_object", `${key}: ${size} bytes, over the limit of ${expected.max}`);
}

/** A range that does not lie inside the expected size is refused before any read. */
function inside(key: string, range: ByteRange, expected: Expected): void {
  const size = "bytes" in expected ? expected.bytes : expected.max;
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new FormatError("invalid_object", `${key}: bytes ${offset}..${offset + length} lie outside its ${size} bytes`);
  }
}

/** Runs an R2 call; its failure (a network or R2 error) is a FormatError `unreadable`, which the worker answers 503. */
async function unreadable<T>(key: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw new FormatError("unreadable", `${key}: R2 read failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/** Bytes of an immutable key (a content-addressed object, or a range of one) from the colo cache, if there. */
export async function coloGet(s: Storage, key: string, range?: ByteRange): Promise<Uint8Array | null> {
  const colo = s.colo;
  if (!colo) return null;
  // A colo cache that fails is a miss: R2 is read instead.
  const bytes = await s.slot(async () => {
    const hit = await colo.match(coloKey(key, range));
    return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
  }).catch(() => null);
  if (bytes) s.stats.colo++;
  return bytes;
}

/** Puts verified bytes of an immutable key into the colo cache (after the response). */
export function coloPut(s: Storage, key: string, bytes: Uint8Array, range?: ByteRange): void {
  if (!s.colo) return;
  const res = new Response(bytes, { headers: { "cache-control": "public, max-age=31536000, immutable", "content-type": "application/octet-stream" } });
  const colo = s.colo;
  s.defer(s.slot(() => colo.put(coloKey(key, range), res)));
}

/**
 * A range of a content-addressed object of `bytes` bytes (its size in the manifest) from the colo cache, else R2
 * (then cached there). Null when R2 has no such object.
 */
export async function getImmutable(s: Storage, key: string, bytes: number, range: ByteRange): Promise<Uint8Array | null> {
  const hit = await coloGet(s, key, range);
  if (hit && hit.byteLength === range.length) return hit;
  const read = await getBytes(s, key, { bytes }, range);
  if (read) coloPut(s, key, read, range);
  return read;
}

/**
 * An object of the index, checked against the manifest: from the colo cache when it is there (verified when it was
 * put), else from R2, where its size is checked before its body is read and its sha256 once read, before it is
 * cached in the colo.
 */
export async function fetchVerified(s: Storage, tenant: string, index: string, ref: ObjectRef): Promise<Uint8Array> {
  const key = objectKey(tenant, index, ref.path);
  const hit = await coloGet(s, key);
  if (hit && hit.byteLength === ref.bytes) return hit;
  const bytes = await getBytes(s, key, { bytes: ref.bytes });
  if (!bytes) throw new FormatError("truncated", `object ${ref.path} of ${tenant}/${index} is missing from R2`);
  await verifyObject(ref, bytes);
  coloPut(s, key, bytes);
  return bytes;
}

/**
 * An object of the index decoded once and kept in the isolate cache (its decoded form counted at `weight` times its
 * bytes): from the cache, else fetched (fetchVerified: colo cache, else R2 and checked) and decoded by `decode`,
 * which throws FormatError when the object does not match the manifest. Concurrent misses of one object (the
 * requests of an isolate, the parts of one request) share one fetch.
 *
 * @example
 * const norms = await cachedObject(s, cache, tenant, index, section.norms, decodeLexicalNorms);
 */
export async function cachedObject<T>(
  s: Storage, cache: ByteCache, tenant: string, index: string, ref: ObjectRef, decode: (bytes: Uint8Array) => T, weight = 1,
): Promise<T> {
  const key = objectKey(tenant, index, ref.path);
  return cachedLoad(cache, key, s, async () => {
    const bytes = await fetchVerified(s, tenant, index, ref);
    const value = decode(bytes);
    cache.set(key, value, Math.ceil(weight * bytes.byteLength) + 64);
    return value;
  });
}
