import { keyRecordKey, parseKeyRecord, type KeyRecord } from "../../format/api-key.ts";

export interface KeyCache {
  /** The record of `tenant`/`keyId`, or null when there is none (or it does not parse); cached for `ttlMs`. */
  get(bucket: R2Bucket, tenant: string, keyId: string): Promise<KeyRecord | null>;
}

/**
 * Key records cached in the isolate for `ttlMs` (absent keys too, so unknown ids do not cost an R2 read each),
 * at most `maxEntries` (oldest dropped first). A revoke therefore takes effect within `ttlMs` in every isolate.
 *
 * @example
 * const cache = createKeyCache({ ttlMs: 30_000 });
 * const record = await cache.get(env.INDEXES, "acme", "0123456789abcdef");
 */
export function createKeyCache(opts: { ttlMs: number; maxEntries?: number; now?: () => number }): KeyCache {
  const now = opts.now ?? Date.now;
  const max = opts.maxEntries ?? 10_000;
  const entries = new Map<string, { at: number; record: Promise<KeyRecord | null> }>();

  async function load(bucket: R2Bucket, tenant: string, keyId: string): Promise<KeyRecord | null> {
    const obj = await bucket.get(keyRecordKey(tenant, keyId));
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
    get(bucket, tenant, keyId) {
      const id = `${tenant}/${keyId}`;
      const hit = entries.get(id);
      if (hit && now() - hit.at < opts.ttlMs) return hit.record;
      entries.delete(id);
      const record = load(bucket, tenant, keyId);
      entries.set(id, { at: now(), record });
      record.catch(() => entries.delete(id)); // an R2 error is not cached
      while (entries.size > max) entries.delete(entries.keys().next().value!);
      return record;
    },
  };
}
