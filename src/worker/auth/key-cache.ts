import { keyRecordKey, parseKeyRecord, type KeyRecord } from "../../format/api-key.ts";
import { createLru } from "../lru.ts";
import { ApiError } from "../http-error.ts";
import { coloKey } from "../store/storage.ts";

/** The colo's cache and the request's waitUntil: a record read from R2 is shared with the colo's other isolates. */
export interface ColoShare {
  cache: Cache;
  defer(p: Promise<unknown>): void;
}

export interface KeyCache {
  /**
   * The record of `tenant`/`keyId`, or null when there is none (or it does not parse); cached for `ttlMs` from its
   * R2 read, in the isolate and, with `colo`, in the colo's cache for the isolates that start after.
   */
  get(bucket: R2Bucket, tenant: string, keyId: string, colo?: ColoShare): Promise<KeyRecord | null>;
  /** Records and absent ids held (each bounded). */
  sizes(): { records: number; absent: number };
}

/**
 * Key records cached in the isolate for `ttlMs`, at most `maxEntries` (least recently used dropped first). A revoke
 * therefore takes effect within `ttlMs` in every isolate. Ids without a record (unknown, or a record that does not
 * parse) are remembered as absent for `ttlMs` too, so an unknown id costs one R2 read per TTL, but in a map of their
 * own (`maxAbsent`): a flood of made-up ids can never push a real key's record out. Concurrent misses of one id share
 * one read; an R2 error is not cached. With the colo's cache, a record (never an absent id) read from R2 is shared
 * there with when it was read, and a new isolate takes a copy under `ttlMs` old instead of reading R2 (keeping it for
 * what is left of `ttlMs`), so a revoke still shows within `ttlMs` of it everywhere, and a new isolate in a warm colo
 * checks a key without an R2 round trip.
 *
 * @example
 * const cache = createKeyCache({ ttlMs: 30_000 });
 * const record = await cache.get(env.INDEXES, "acme", "0123456789abcdef");
 */
export function createKeyCache(opts: { ttlMs: number; maxEntries?: number; maxAbsent?: number; now?: () => number }): KeyCache {
  const now = opts.now ?? Date.now;
  // Each record with when it was read from R2 (here or by another isolate): it serves until `ttlMs` after that.
  const records = createLru<{ record: KeyRecord; readAt: number }>({ max: opts.maxEntries ?? 10_000, ttlMs: opts.ttlMs, now: opts.now });
  const absent = createLru<true>({ max: opts.maxAbsent ?? 10_000, ttlMs: opts.ttlMs, now: opts.now });
  const loading = new Map<string, Promise<KeyRecord | null>>();

  /** A copy the colo holds under `ttlMs` old (checked as an R2 read is); null when there is none, or it cannot be read. */
  async function fromColo(colo: ColoShare, tenant: string, keyId: string): Promise<{ record: KeyRecord; readAt: number } | null> {
    try {
      const res = await colo.cache.match(coloKey(keyRecordKey(tenant, keyId)));
      if (!res) return null;
      const readAt = Number(res.headers.get("x-i3-read-at"));
      const age = now() - readAt;
      if (!(age >= 0 && age < opts.ttlMs)) return null;
      const record = parseKeyRecord(await res.json());
      return record.id === keyId && record.tenant === tenant ? { record, readAt } : null;
    } catch {
      return null; // an unreadable copy: R2 decides
    }
  }

  function share(colo: ColoShare, tenant: string, keyId: string, record: KeyRecord, readAt: number): void {
    const res = new Response(JSON.stringify(record), {
      headers: { "cache-control": `public, max-age=${Math.max(1, Math.floor(opts.ttlMs / 1000))}`, "x-i3-read-at": String(readAt), "content-type": "application/json" },
    });
    colo.defer(colo.cache.put(coloKey(keyRecordKey(tenant, keyId)), res).catch(() => {}));
  }

  async function load(bucket: R2Bucket, tenant: string, keyId: string, colo?: ColoShare): Promise<{ record: KeyRecord; readAt: number } | null> {
    if (colo && opts.ttlMs > 0) {
      const shared = await fromColo(colo, tenant, keyId);
      if (shared) return shared;
    }
    const readAt = now();
    const record = await fromR2(bucket, tenant, keyId);
    if (record && colo && opts.ttlMs > 0) share(colo, tenant, keyId, record, readAt);
    return record && { record, readAt };
  }

  async function fromR2(bucket: R2Bucket, tenant: string, keyId: string): Promise<KeyRecord | null> {
    let obj: R2ObjectBody | null;
    try {
      obj = await bucket.get(keyRecordKey(tenant, keyId));
    } catch (e) {
      // R2 failed: the key can be neither accepted nor refused. Not cached: the next request reads again.
      console.error(`key record ${tenant}/${keyId} could not be read: ${(e as Error)?.message ?? e}`);
      throw new ApiError(503, "storage_unavailable", "API keys cannot be checked just now; try again", { headers: { "Retry-After": "1" } });
    }
    if (!obj) return null;
    try {
      const record = parseKeyRecord(await obj.json());
      return record.id === keyId && record.tenant === tenant ? record : null;
    } catch (e) {
      console.error(`key record ${tenant}/${keyId} is invalid: ${(e as Error).message}`);
      return null;
    }
  }

  return {
    get(bucket, tenant, keyId, colo) {
      const id = `${tenant}/${keyId}`;
      const hit = records.get(id);
      if (hit && now() - hit.readAt < opts.ttlMs) return Promise.resolve(hit.record);
      if (absent.get(id)) return Promise.resolve(null);
      let pending = loading.get(id);
      if (!pending) {
        pending = load(bucket, tenant, keyId, colo)
          .then((got) => {
            if (got) records.set(id, got);
            else absent.set(id, true);
            return got?.record ?? null;
          })
          .finally(() => loading.delete(id));
        loading.set(id, pending);
      }
      return pending;
    },
    sizes: () => ({ records: records.size, absent: absent.size }),
  };
}
