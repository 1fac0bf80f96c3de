import { keyRecordKey, parseKeyRecord, type KeyRecord } from "../../format/api-key.ts";
import { createLru } from "../lru.ts";
import { ApiError } from "../http-error.ts";

export interface KeyCache {
  /**
   * The record of `tenant`/`keyId`, or null when there is none (or it does not parse); cached for `ttlMs`. `defer`
   * (the request's waitUntil) keeps a read other requests share running if the request that began it ends first.
   */
  get(bucket: R2Bucket, tenant: string, keyId: string, defer?: (p: Promise<unknown>) => void): Promise<KeyRecord | null>;
  /** Records and absent ids held (each bounded). */
  sizes(): { records: number; absent: number };
}

/**
 * Key records cached in the isolate for `ttlMs`, at most `maxEntries` (least recently used dropped first). A revoke
 * therefore takes effect within `ttlMs` in every isolate. Ids without a record (unknown, or a record that does not
 * parse) are remembered as absent for `ttlMs` too, so an unknown id costs one R2 read per TTL, but in a map of their
 * own (`maxAbsent`): a flood of made-up ids can never push a real key's record out. Concurrent misses of one id share
 * one read; an R2 error is not cached.
 *
 * @example
 * const cache = createKeyCache({ ttlMs: 30_000 });
 * const record = await cache.get(env.INDEXES, "acme", "0123456789abcdef");
 */
export function createKeyCache(opts: { ttlMs: number; maxEntries?: number; maxAbsent?: number; now?: () => number }): KeyCache {
  const records = createLru<KeyRecord>({ max: opts.maxEntries ?? 10_000, ttlMs: opts.ttlMs, now: opts.now });
  const absent = createLru<true>({ max: opts.maxAbsent ?? 10_000, ttlMs: opts.ttlMs, now: opts.now });
  const loading = new Map<string, Promise<KeyRecord | null>>();

  async function load(bucket: R2Bucket, tenant: string, keyId: string): Promise<KeyRecord | null> {
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
    get(bucket, tenant, keyId, defer) {
      const id = `${tenant}/${keyId}`;
      const hit = records.get(id);
      if (hit) return Promise.resolve(hit);
      if (absent.get(id)) return Promise.resolve(null);
      let pending = loading.get(id);
      if (!pending) {
        pending = load(bucket, tenant, keyId)
          .then((record) => {
            if (record) records.set(id, record);
            else absent.set(id, true);
            return record;
          })
          .finally(() => loading.delete(id));
        loading.set(id, pending);
        defer?.(pending.catch(() => {})); // its failure is its callers' to report
      }
      return pending;
    },
    sizes: () => ({ records: records.size, absent: absent.size }),
  };
}
