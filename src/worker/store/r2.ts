import { FormatError, objectKey, verifyObject, type ObjectRef } from "../../format";
import { coloKey, type Storage } from "./storage";

/** Reads an R2 object (or a byte range of it) as bytes; null when the key does not exist. */
export async function getBytes(s: Storage, key: string, range?: { offset: number; length: number }): Promise<Uint8Array | null> {
  if (key.endsWith("/current")) s.stats.pointer++;
  else s.stats.r2++;
  return s.slot(async () => {
    const obj = await s.bucket.get(key, range ? { range } : undefined);
    return obj ? new Uint8Array(await obj.arrayBuffer()) : null;
  });
}

/** Bytes of an immutable key (a content-addressed object, or a range of one) from the colo cache, if there. */
export async function coloGet(s: Storage, key: string, range?: { offset: number; length: number }): Promise<Uint8Array | null> {
  const colo = s.colo;
  if (!colo) return null;
  const bytes = await s.slot(async () => {
    const hit = await colo.match(coloKey(key, range));
    return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
  });
  if (bytes) s.stats.colo++;
  return bytes;
}

/** Puts verified bytes of an immutable key into the colo cache (after the response). */
export function coloPut(s: Storage, key: string, bytes: Uint8Array, range?: { offset: number; length: number }): void {
  if (!s.colo) return;
  const res = new Response(bytes, { headers: { "cache-control": "public, max-age=31536000, immutable", "content-type": "application/octet-stream" } });
  const colo = s.colo;
  s.defer(s.slot(() => colo.put(coloKey(key, range), res)));
}

/**
 * Immutable bytes (a range of a content-addressed object) from the colo cache, else R2 (then cached there).
 * Null when R2 has no such object.
 */
export async function getImmutable(s: Storage, key: string, range?: { offset: number; length: number }): Promise<Uint8Array | null> {
  const hit = await coloGet(s, key, range);
  if (hit) return hit;
  const bytes = await getBytes(s, key, range);
  if (bytes) coloPut(s, key, bytes, range);
  return bytes;
}

/**
 * An object of the index, checked against the manifest: from the colo cache when it is there (verified when it was
 * put), else from R2, where its size and sha256 are checked once before it is cached in the colo.
 */
export async function fetchVerified(s: Storage, tenant: string, index: string, ref: ObjectRef): Promise<Uint8Array> {
  const key = objectKey(tenant, index, ref.path);
  const hit = await coloGet(s, key);
  if (hit && hit.byteLength === ref.bytes) return hit;
  const bytes = await getBytes(s, key);
  if (!bytes) throw new FormatError("truncated", `object ${ref.path} of ${tenant}/${index} is missing from R2`);
  await verifyObject(ref, bytes);
  coloPut(s, key, bytes);
  return bytes;
}
