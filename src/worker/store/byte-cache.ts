/**
 * A least-recently-used cache bounded by a byte budget. The isolate has 128 MB: models, shards and manifests
 * share one budget, and what does not fit is evicted oldest first (never the entry just inserted).
 */
export interface ByteCache {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown, bytes: number): void;
  delete(key: string): void;
  /** Bytes currently held. */
  readonly bytes: number;
  readonly budget: number;
}

export function createByteCache(budget: number): ByteCache {
  const entries = new Map<string, { value: unknown; bytes: number }>();
  let held = 0;
  return {
    get<T>(key: string) {
      const e = entries.get(key);
      if (!e) return undefined;
      entries.delete(key);
      entries.set(key, e); // most recently used goes last
      return e.value as T;
    },
    set(key, value, bytes) {
      this.delete(key);
      entries.set(key, { value, bytes });
      held += bytes;
      for (const [k, e] of entries) {
        if (held <= budget || k === key) break;
        entries.delete(k);
        held -= e.bytes;
      }
    },
    delete(key) {
      const e = entries.get(key);
      if (e) {
        entries.delete(key);
        held -= e.bytes;
      }
    },
    get bytes() {
      return held;
    },
    budget,
  };
}
