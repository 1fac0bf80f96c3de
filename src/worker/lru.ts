/**
 * A map bounded by its number of entries: the least recently used entry leaves when a new one would exceed `max`.
 * With `ttlMs`, an entry older than that is absent (and dropped when met). The isolate's per-name state (index slots,
 * names that do not exist, key records, rate-limit buckets) lives in these, so no input can grow it without bound.
 *
 * @example
 * const missing = createLru<true>({ max: 4096, ttlMs: 10_000 });
 * missing.set("acme/nothing", true);
 * missing.get("acme/nothing"); // true for 10 s
 */
export interface Lru<V> {
  /** The value, made the most recently used; undefined when absent or expired. */
  get(key: string): V | undefined;
  /** Inserts or replaces, as the most recently used; evicts the least recently used past `max`. */
  set(key: string, value: V): void;
  delete(key: string): void;
  readonly size: number;
}

export function createLru<V>(opts: { max: number; ttlMs?: number; now?: () => number; onEvict?: (key: string, value: V) => void }): Lru<V> {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, { value: V; at: number }>(); // insertion order = recency
  const expired = (at: number) => opts.ttlMs !== undefined && now() - at >= opts.ttlMs;
  return {
    get(key) {
      const e = entries.get(key);
      if (!e) return undefined;
      entries.delete(key);
      if (expired(e.at)) return undefined;
      entries.set(key, e);
      return e.value;
    },
    set(key, value) {
      entries.delete(key);
      entries.set(key, { value, at: now() });
      while (entries.size > opts.max) {
        const [oldest, e] = entries.entries().next().value!;
        entries.delete(oldest);
        opts.onEvict?.(oldest, e.value);
      }
    },
    delete(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
