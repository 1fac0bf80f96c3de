// Failed authentications per client, checked before a key is looked up: a client that keeps sending made-up keys
// (each a possible R2 read) or guessing secrets gets 429 `rate_limited` before anything is read. The client is
// CF-Connecting-IP (set by Cloudflare, never by the client); where it is absent (local development, tests) every
// request shares one bucket.
import { configOf, type Env } from "../env";
import { createRateLimiter, type BucketLimit, type Taken } from "./rate-limit";

/** How long a client the global limit refused stays refused in this isolate (the binding's longest period). */
const GLOBAL_BLOCK_MS = 60_000;

export interface FailureLimiter {
  /** Whether the request's client may try a key now (nothing is taken). */
  check(env: Env, client: string): Taken;
  /**
   * Counts a failure of the client: in this isolate, and with the Workers Rate Limiting binding `AUTH_FAILURE_LIMITER`
   * when configured, counted across the isolates of a Cloudflare location; when that says the client is over its
   * limit, the client is refused here for a minute.
   */
  fail(env: Env, client: string): Promise<void>;
}

/** The client of a request: its CF-Connecting-IP, or one shared bucket where there is none. */
export const clientOf = (header: string | undefined) => (header ? `ip:${header}` : "unknown");

export function createFailureLimiter(opts: { now?: () => number; maxClients?: number } = {}): FailureLimiter {
  const buckets = createRateLimiter({ now: opts.now, maxEntries: opts.maxClients ?? 10_000 });
  const limitOf = (env: Env): BucketLimit => {
    const perMinute = configOf(env).authFailuresPerMinute; // a bad value is 500 config_error, naming the var
    return { rps: perMinute / 60, burst: Math.max(1, Math.floor(perMinute)) };
  };
  return {
    check: (env, client) => buckets.peek(client, limitOf(env)),
    async fail(env, client) {
      const limit = limitOf(env);
      buckets.take(client, limit);
      if (!env.AUTH_FAILURE_LIMITER) return;
      try {
        const { success } = await env.AUTH_FAILURE_LIMITER.limit({ key: client });
        if (!success) buckets.block(client, limit, GLOBAL_BLOCK_MS);
      } catch (e) {
        console.error("the AUTH_FAILURE_LIMITER binding failed; the per-isolate limit still holds:", e);
      }
    },
  };
}
