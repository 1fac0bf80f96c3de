/**
 * Token buckets per key, in this isolate's memory. Cloudflare runs many isolates, so the limit holds per isolate,
 * not globally: a client spread over N isolates can get up to N times the rate. For a global limit, use the
 * Workers Rate Limiting binding (`[[unsafe.bindings]] type = "ratelimit"`) keyed by the key id.
 *
 * @example
 * const limiter = createRateLimiter();
 * const r = limiter.take("0123456789abcdef", { rps: 5 }); // { ok: true } or { ok: false, retryAfterS: 1 }
 */
export function createRateLimiter(opts: { now?: () => number; maxEntries?: number } = {}) {
  const now = opts.now ?? Date.now;
  const max = opts.maxEntries ?? 10_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(id: string, limit: { rps: number; burst?: number }): { ok: true } | { ok: false; retryAfterS: number } {
      const capacity = Math.max(1, limit.burst ?? Math.ceil(limit.rps));
      const t = now();
      let b = buckets.get(id);
      if (!b) {
        b = { tokens: capacity, at: t };
        buckets.set(id, b);
        if (buckets.size > max) buckets.delete(buckets.keys().next().value!);
      }
      b.tokens = Math.min(capacity, b.tokens + ((t - b.at) / 1000) * limit.rps);
      b.at = t;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / limit.rps)) };
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
