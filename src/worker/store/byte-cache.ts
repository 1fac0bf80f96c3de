/**
 * A least-recently-used cache bounded by a byte budget. The isolate has 128 MB: models, manifests, flat shards, BM25
 * buckets and documents share one budget, and what does not fit is evicted oldest first (never the entry just
 * inserted). An entry may say what to do when it leaves (release an ONNX session).
 */
export interface ByteCache {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown, bytes: number, onEvict?: () => void): void;
  delete(key: string): void;
  /** Bytes currently held. */
  readonly bytes: number;
  readonly budget: number;
}

interface Entry {
  value: unknown;
  bytes: number;
  onEvict?: () => void;
}

export function createByteCache(budget: number): ByteCache {
  const entries = new Map<string, Entry>();
  let held = 0;
  const drop = (key: string, e: Entry) => {
    entries.delete(key);
    held -= e.bytes;
    e.onEvict?.();
  };
  return {
    get<T>(key: string) {
      const e = entries.get(key);
      if (!e) return undefined;
      entries.delete(key);
      entries.set(key, e); // most recently used goes last
      return e.value as T;
    },
    set(key, value, bytes, onEvict) {
      this.delete(key);
      entries.set(key, { value, bytes, onEvict });
      held += bytes;
      for (const [k, e] of entries) {
        if (held <= budget || k === key) break;
        drop(k, e);
      }
    },
    delete(key) {
      const e = entries.get(key);
      if (e) drop(key, e);
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
