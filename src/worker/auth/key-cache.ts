import { keyRecordKey, parseKeyRecord, type KeyRecord } from "../../format/api-key.ts";
import { createLru } from "../lru.ts";
import { ApiError } from "../http-error.ts";
import { coloKey } from "../store/storage.ts";
import type { ColoSeal } from "../store/colo-seal.ts";

/**
 * The colo's cache, the request's waitUntil and the deployment's seal (COLO_SHARE_SECRET): a record read from R2 is
 * shared with the colo's other isolates of this deployment, and only its own sealed records are taken.
 */
export interface ColoShare {
  cache: Cache;
  defer(p: Promise<unknown>): void;
  seal: ColoSeal;
}

export interface KeyCache {
  /**
   * The record of `tenant`/`keyId`, or null when there is none (or it does not parse); cached for `ttlMs` from its
   * R2 read, in the isolate and, with `colo`, sealed in the colo's cache for this deployment's isolates that start
   * after. `defer` (the request's waitUntil) keeps a read other requests share running if the request that began it
   * ends first.
   */
  get(bucket: R2Bucket, tenant: string, keyId: string, defer?: (p: Promise<unknown>) => void, colo?: ColoShare): Promise<KeyRecord | null>;
  /** Records and absent ids held (each bounded). */
  sizes(): { records: number; absent: number };
}

/**
 * Key records cached in the isolate for `ttlMs`, at most `maxEntries` (least recently used dropped first). A revoke
 * therefore takes effect within `ttlMs` in every isolate. Ids without a record (unknown, or a record that does not
 * parse) are remembered as absent for `ttlMs` too, so an unknown id costs one R2 read per TTL, but in a map of their
 * own (`maxAbsent`): a flood of made-up ids can never push a real key's record out. Concurrent misses of one id share
 * one read; an R2 error is not cached. With the colo's cache (a deployment with COLO_SHARE_SECRET), a record (never an
 * absent id) read from R2 is put there sealed, with when it was read, and a new isolate takes a copy whose seal
 * verifies and that is under `ttlMs` old instead of reading R2 (keeping it for what is left of `ttlMs`): a revoke still
 * shows within `ttlMs` of it everywhere, and a new isolate in a warm colo checks a key without an R2 round trip.
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

  const urlOf = (colo: ColoShare, tenant: string, keyId: string) => coloKey(`keys/${colo.seal.namespace}/${keyRecordKey(tenant, keyId)}`);

  /** A sealed copy the colo holds under `ttlMs` old; null when there is none, or it cannot be read or verified. */
  async function fromColo(colo: ColoShare, tenant: string, keyId: string): Promise<{ record: KeyRecord; readAt: number } | null> {
    try {
      const res = await colo.cache.match(urlOf(colo, tenant, keyId));
      if (!res) return null;
      const text = await res.text();
      if (!(await colo.seal.verify(text, res.headers.get("x-i3-seal") ?? ""))) return null;
      const entry = JSON.parse(text) as { tenant?: unknown; keyId?: unknown; readAt?: unknown; record?: unknown };
      const readAt = Number(entry.readAt);
      const age = now() - readAt;
      if (entry.tenant !== tenant || entry.keyId !== keyId || !(age >= 0 && age < opts.ttlMs)) return null;
      const record = parseKeyRecord(entry.record);
      return record.id === keyId && record.tenant === tenant ? { record, readAt } : null;
    } catch {
      return null; // an unreadable copy: R2 decides
    }
  }

  async function share(colo: ColoShare, tenant: string, keyId: string, record: KeyRecord, readAt: number): Promise<void> {
    const text = JSON.stringify({ tenant, keyId, readAt, record });
    const res = new Response(text, {
      headers: { "cache-control": `public, max-age=${Math.max(1, Math.floor(opts.ttlMs / 1000))}`, "x-i3-seal": await colo.seal.seal(text), "content-type": "application/json" },
    });
    await colo.cache.put(urlOf(colo, tenant, keyId), res);
  }

  async function load(bucket: R2Bucket, tenant: string, keyId: string, colo?: ColoShare): Promise<{ record: KeyRecord; readAt: number } | null> {
    if (colo && opts.ttlMs > 0) {
      const shared = await fromColo(colo, tenant, keyId);
      if (shared) return shared;
    }
    const readAt = now();
    const record = await fromR2(bucket, tenant, keyId);
    if (record && colo && opts.ttlMs > 0) colo.defer(share(colo, tenant, keyId, record, readAt).catch(() => {}));
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
    get(bucket, tenant, keyId, defer, colo) {
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
        defer?.(pending.catch(() => {})); // its failure is its callers' to report
      }
      return pending;
    },
    sizes: () => ({ records: records.size, absent: absent.size }),
  };
}
