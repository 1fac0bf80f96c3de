// What one request reads through: the R2 bucket, the colo's cache (the Workers Cache API) and the request's
// waitUntil, with counts of what it read where. Content-addressed objects are immutable, so a copy in the colo
// cache is good forever: it was verified against its sha256 when it was first read from R2, and is never hashed
// again. `SIMULATED_R2_LATENCY_MS` and `SIMULATED_COLO_LATENCY_MS` (benchmarks only) delay every R2 read and every
// colo cache read, as a deployed Worker waits for each.
import { configOf, type Env } from "../env";

export interface IoStats {
  /** R2 reads of index data: objects, ranges of doc blocks, manifests. */
  r2: number;
  /** Reads answered by the colo cache. */
  colo: number;
  /** R2 reads of index pointers (once per POINTER_TTL_MS per index, in the background when a version is cached). */
  pointer: number;
}

export interface Storage {
  bucket: R2Bucket;
  /**
   * Runs one read under the request's connection limit: at most CONNECTIONS reads (R2 and colo cache together) wait
   * at once, as a Worker request may have no more outgoing connections open (`wrangler dev` does not enforce it).
   */
  slot<T>(read: () => Promise<T>): Promise<T>;
  /** The colo's cache (`caches.default`); absent where the runtime has none. */
  colo?: Cache;
  /** The deployment's COLO_SHARE_SECRET: what it shares through the colo cache that is not content-addressed is sealed. */
  coloSecret?: string;
  /** Keeps work (a cache put, a refresh) alive after the response (`ctx.waitUntil`). */
  defer(p: Promise<unknown>): void;
  stats: IoStats;
}

/** The request's execution context, where the runtime gives one (hono's `c.executionCtx` throws where it does not). */
export function executionCtx(c: { executionCtx: { waitUntil(p: Promise<unknown>): void } }): { waitUntil(p: Promise<unknown>): void } | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/** Outgoing connections one Worker request may have waiting at once. */
export const CONNECTIONS = 6;

/** A counting semaphore: `run` waits for one of `n` slots. */
export function slots(n: number) {
  let free = n;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

/** The cache key of an R2 key (and byte range): a URL under a host no request ever reaches. */
export function coloKey(key: string, range?: { offset: number; length: number }): string {
  return `https://i3-edge.cache/${key}${range ? `?bytes=${range.offset}-${range.offset + range.length - 1}` : ""}`;
}

/** A delay of about `ms` (x0.75 to x1.25), the spread of a remote store's latency. */
const jitter = (ms: number) => new Promise((r) => setTimeout(r, ms * (0.75 + Math.random() / 2)));

/**
 * `target` with each of its `reads` methods delayed by about `ms` when `ms` > 0 (benchmarks: R2's `get` and `head`, the
 * colo cache's `match`; the cache's writes are after the answer); the other methods as they are.
 */
function delayed<T extends object>(target: T, reads: ReadonlyArray<keyof T>, ms: number): T {
  if (!(ms > 0)) return target;
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t);
      if (!reads.includes(prop as keyof T)) return typeof v === "function" ? v.bind(t) : v;
      return async (...args: unknown[]) => {
        await jitter(ms);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/**
 * The storage of one request.
 *
 * @example
 * const storage = requestStorage(c.env, c.executionCtx);
 */
export function requestStorage(env: Env, ctx?: { waitUntil(p: Promise<unknown>): void }): Storage {
  const colo = typeof caches !== "undefined" ? (caches as unknown as { default?: Cache }).default : undefined;
  return {
    bucket: delayed(env.INDEXES, ["get", "head"], configOf(env).simulatedR2LatencyMs),
    slot: slots(CONNECTIONS),
    colo: colo && delayed(colo, ["match"], configOf(env).simulatedColoLatencyMs),
    ...(configOf(env).coloShareSecret ? { coloSecret: configOf(env).coloShareSecret } : {}),
    defer: (p) => {
      const quiet = p.catch((e) => console.error("deferred work failed:", e));
      if (ctx) ctx.waitUntil(quiet);
    },
    stats: { r2: 0, colo: 0, pointer: 0 },
  };
}
