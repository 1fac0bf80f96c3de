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

/** Loads in flight in this isolate, by cache key (shared by every cache: keys name what they load). */
const inflight = new Map<string, Promise<unknown>>();

/**
 * The value cached under `key`, else the one `load` makes (which caches it): concurrent requests that miss the same
 * key share one load (one ONNX session, one vocab parse), not one each.
 *
 * @example
 * const tokenizer = await cachedLoad(cache, `tokenizer:${vocab.sha256}`, () => createAndCache());
 */
export function cachedLoad<T>(cache: ByteCache, key: string, load: () => Promise<T>): Promise<T> {
  const hit = cache.get<T>(key);
  if (hit !== undefined) return Promise.resolve(hit);
  let p = inflight.get(key) as Promise<T> | undefined;
  if (!p) {
    p = load().finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}
