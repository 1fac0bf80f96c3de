import { createLru } from "../lru.ts";

export type BucketLimit = { rps: number; burst?: number };
export type Taken = { ok: true } | { ok: false; retryAfterS: number };

/**
 * Token buckets by id (an API key, a client address), in this isolate's memory, at most `maxEntries` of them (least
 * recently used dropped first). Cloudflare runs many isolates, so a limit holds per isolate, not globally: a client
 * spread over N isolates can get up to N times the rate. The global option is the Workers Rate Limiting binding
 * (`[[ratelimits]]` in wrangler.toml), used for failed authentications when configured (middleware.ts).
 *
 * @example
 * const limiter = createRateLimiter();
 * const r = limiter.take("0123456789abcdef", { rps: 5 }); // { ok: true } or { ok: false, retryAfterS: 1 }
 */
export function createRateLimiter(opts: { now?: () => number; maxEntries?: number } = {}) {
  const now = opts.now ?? Date.now;
  const buckets = createLru<{ tokens: number; at: number }>({ max: opts.maxEntries ?? 10_000 });

  /** The bucket of `id`, refilled to now. */
  function bucket(id: string, limit: BucketLimit) {
    const capacity = Math.max(1, limit.burst ?? Math.ceil(limit.rps));
    const t = now();
    let b = buckets.get(id);
    if (!b) {
      b = { tokens: capacity, at: t };
      buckets.set(id, b);
    }
    b.tokens = Math.min(capacity, b.tokens + ((t - b.at) / 1000) * limit.rps);
    b.at = t;
    return b;
  }
  const wait = (tokens: number, limit: BucketLimit): Taken => ({ ok: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / limit.rps)) });

  return {
    /** Takes a token of `id`'s bucket, if there is one. */
    take(id: string, limit: BucketLimit): Taken {
      const b = bucket(id, limit);
      if (b.tokens < 1) return wait(b.tokens, limit);
      b.tokens -= 1;
      return { ok: true };
    },
    /** Whether `id` has a token, without taking it (an id without a bucket has a full one: none is made for it). */
    peek(id: string, limit: BucketLimit): Taken {
      if (!buckets.get(id)) return { ok: true };
      const b = bucket(id, limit);
      return b.tokens < 1 ? wait(b.tokens, limit) : { ok: true };
    },
    /** Empties `id`'s bucket so that its next token comes in `ms`. */
    block(id: string, limit: BucketLimit, ms: number): void {
      bucket(id, limit).tokens = Math.min(0, 1 - (limit.rps * ms) / 1000);
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
