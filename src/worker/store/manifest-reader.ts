// An index's pointer and manifest, as the worker reads them: the pointer from R2 (or as its colo last read it, while
// fresh), the manifest from the colo cache or R2, checked against the pointer's sha256. No encoder and no search code:
// the routes that only describe an index read through here too.
import { FormatError, INDEX_LIMITS, parseManifest, parsePointer, pointerKey, sha256Hex, type Manifest, type Pointer } from "../../format";
import { coloGet, coloPut, getBytes } from "./r2";
import { coloKey, type Storage } from "./storage";

/** Reads the index's pointer; null when the index has never been published (or does not exist). */
export async function readPointer(s: Storage, tenant: string, index: string): Promise<Pointer | null> {
  const bytes = await getBytes(s, pointerKey(tenant, index), { max: INDEX_LIMITS.maxPointerBytes });
  if (!bytes) return null;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new FormatError("invalid_pointer", `pointer of ${tenant}/${index} is not JSON`, { cause: e });
  }
  return parsePointer(json, { tenant, index });
}

/**
 * The pointer as this colo last read it from R2, when that read is under `maxAgeMs` old; else read from R2 now (and
 * shared with the colo). `readAt` is when it was read from R2: a version is then served at most `maxAgeMs` after a
 * publish moved the pointer, as with a pointer each isolate reads itself, but a new isolate in a warm colo starts
 * without an R2 round trip. A missing pointer is never shared (a publish shows at once). `maxAgeMs` 0: R2 only.
 */
export async function readPointerShared(s: Storage, tenant: string, index: string, maxAgeMs: number, now: number): Promise<{ pointer: Pointer | null; readAt: number }> {
  const key = coloKey(pointerKey(tenant, index));
  const colo = s.colo;
  if (colo && maxAgeMs > 0) {
    const hit = await s.slot(async () => {
      const res = await colo.match(key);
      if (!res) return null;
      const readAt = Number(res.headers.get("x-i3-read-at"));
      const text = await res.text();
      return now - readAt >= 0 && now - readAt < maxAgeMs ? { readAt, pointer: parsePointer(JSON.parse(text), { tenant, index }) } : null;
    }).catch(() => null); // an unreadable or stale copy: read R2
    if (hit) {
      s.stats.colo++;
      return hit;
    }
  }
  const pointer = await readPointer(s, tenant, index);
  if (colo && maxAgeMs > 0 && pointer) {
    const res = new Response(JSON.stringify(pointer), {
      headers: { "cache-control": `public, max-age=${Math.max(1, Math.floor(maxAgeMs / 1000))}`, "x-i3-read-at": String(now), "content-type": "application/json" },
    });
    s.defer(s.slot(() => colo.put(key, res)));
  }
  return { pointer, readAt: now };
}

/** The manifest a pointer names: from the colo cache, else R2 (its sha256 checked against the pointer, then cached). */
export async function loadManifest(s: Storage, tenant: string, index: string, pointer: Pointer): Promise<{ manifest: Manifest; bytes: number }> {
  // A manifest is immutable (its key is its version, a prefix of its sha256): from the colo cache when there, where
  // it was put once verified against the pointer's sha256, like every object.
  const cached = await coloGet(s, pointer.manifest);
  const bytes = cached ?? (await getBytes(s, pointer.manifest, { max: INDEX_LIMITS.maxManifestBytes }));
  if (!bytes) throw new FormatError("truncated", `manifest ${pointer.manifest} is missing from R2`);
  if (!cached) {
    const sha = await sha256Hex(bytes);
    if (sha !== pointer.sha256) throw new FormatError("checksum_mismatch", `manifest ${pointer.manifest}: expected sha256 ${pointer.sha256}, got ${sha}`);
    coloPut(s, pointer.manifest, bytes);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new FormatError("invalid_manifest", `manifest ${pointer.manifest} is not JSON`, { cause: e });
  }
  return { manifest: parseManifest(json), bytes: bytes.byteLength };
}
