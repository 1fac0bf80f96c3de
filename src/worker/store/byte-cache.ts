/**
 * A least-recently-used cache bounded by a byte budget. The isolate has 128 MB: models, manifests, flat shards, BM25
 * buckets and documents share one budget, and what does not fit is evicted oldest first (never the entry just
 * inserted). An entry may say what to do when it leaves (release an ONNX session). Small entries that many queries
 * need (a doc block's offsets table) may be set `protect`ed: when the cache is full, the rest is evicted before them
 * as long as they take at most PROTECTED_SHARE of the budget, so a stream of large, rarely reused entries (BM25
 * buckets of a large index) does not push them out; past that share they evict one another, oldest first.
 */
export interface ByteCache {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown, bytes: number, onEvict?: () => void, opts?: { protect?: boolean }): void;
  delete(key: string): void;
  /** Bytes currently held. */
  readonly bytes: number;
  readonly budget: number;
}

/** The share of a byte cache's budget its protected entries may take before they evict one another. */
export const PROTECTED_SHARE = 1 / 8;

interface Entry {
  value: unknown;
  bytes: number;
  onEvict?: () => void;
}

export function createByteCache(budget: number): ByteCache {
  // Two recency orders (insertion order = recency, re-inserted on use): the entries, and the protected ones.
  const entries = new Map<string, Entry>();
  const guarded = new Map<string, Entry>();
  let held = 0, guardedHeld = 0;
  const cap = PROTECTED_SHARE * budget;
  const drop = (from: Map<string, Entry>, key: string, e: Entry) => {
    from.delete(key);
    held -= e.bytes;
    if (from === guarded) guardedHeld -= e.bytes;
    e.onEvict?.();
  };
  /** Evicts the oldest entry of `from` that is not `keep`; false when there is none. */
  const evictOldest = (from: Map<string, Entry>, keep: string): boolean => {
    for (const [k, e] of from) {
      if (k === keep) continue;
      drop(from, k, e);
      return true;
    }
    return false;
  };
  return {
    get<T>(key: string) {
      const from = entries.has(key) ? entries : guarded;
      const e = from.get(key);
      if (!e) return undefined;
      from.delete(key);
      from.set(key, e); // most recently used goes last
      return e.value as T;
    },
    set(key, value, bytes, onEvict, opts) {
      this.delete(key);
      const into = opts?.protect ? guarded : entries;
      into.set(key, { value, bytes, onEvict });
      held += bytes;
      if (into === guarded) guardedHeld += bytes;
      while (held > budget) {
        // Protected entries past their share go first, then the others, then the protected ones left.
        if (guardedHeld > cap && evictOldest(guarded, key)) continue;
        if (evictOldest(entries, key) || evictOldest(guarded, key)) continue;
        break; // only the entry just inserted is left
      }
    },
    delete(key) {
      const from = entries.has(key) ? entries : guarded;
      const e = from.get(key);
      if (e) drop(from, key, e);
    },
    get bytes() {
      return held;
    },
    budget,
  };
}

/** Loads in flight in this isolate, by cache key (shared by every cache: keys name what they load), and when each began. */
const inflight = new Map<string, { p: Promise<unknown>; at: number }>();
/** A shared load older than this is not joined but begun again (one its request's end cut short never settles). */
export const INFLIGHT_STALE_MS = 30_000;

/**
 * The value cached under `key`, else the one `load` makes (which caches it): concurrent requests that miss the same
 * key share one load (one ONNX session, one vocab parse, one object read), not one each. The load runs under the
 * waitUntil of the request that begins it (`s.defer`), so it settles for the others even if that request ends first;
 * a load still unsettled after INFLIGHT_STALE_MS is begun again.
 *
 * @example
 * const tokenizer = await cachedLoad(cache, `tokenizer:${vocab.sha256}`, s, () => createAndCache());
 */
export function cachedLoad<T>(cache: ByteCache, key: string, s: { defer(p: Promise<unknown>): void }, load: () => Promise<T>): Promise<T> {
  const hit = cache.get<T>(key);
  if (hit !== undefined) return Promise.resolve(hit);
  const now = Date.now();
  const shared = inflight.get(key);
  if (shared && now - shared.at < INFLIGHT_STALE_MS) return shared.p as Promise<T>;
  const entry = { p: undefined as unknown as Promise<T>, at: now };
  entry.p = load().finally(() => {
    if (inflight.get(key) === entry) inflight.delete(key);
  });
  inflight.set(key, entry);
  s.defer(entry.p.catch(() => {})); // a failure is its callers' to report
  return entry.p;
}
