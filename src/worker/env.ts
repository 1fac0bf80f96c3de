/** Bindings of the worker (wrangler.toml). */
export interface Env {
  /** Index objects, manifests, pointers and models, under `tenants/<tenant>/indexes/<index>/`. */
  INDEXES: R2Bucket;
  /** How often (ms) a warm isolate re-reads an index's `current` pointer. */
  POINTER_TTL_MS?: string;
  /** Isolate cache budget (bytes) for models, manifests and shards. */
  CACHE_BUDGET_BYTES?: string;
  /** `"off"` turns API keys off for this deployment (default: on). */
  AUTH?: string;
  /** How long (ms) an isolate caches a key record: a revoke takes effect within it (default 30000). */
  KEY_CACHE_TTL_MS?: string;
  /**
   * Failed authentications one client (CF-Connecting-IP) may make per minute in one isolate, as a burst of as many,
   * before 429 `rate_limited` (default 30).
   */
  AUTH_FAILURES_PER_MINUTE?: string;
  /**
   * Optional Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml): failed authentications per client
   * counted across the isolates of a Cloudflare location. Absent: only the per-isolate limit applies.
   */
  AUTH_FAILURE_LIMITER?: RateLimit;
  /** First retry (ms) of a version whose load failed for a transient reason (an R2 error); doubles up to 30x (default 2000). */
  LOAD_RETRY_MS?: string;
  /** Benchmarks only: delay every R2 read by about this many ms, as a deployed Worker waits for R2 (default 0). */
  SIMULATED_R2_LATENCY_MS?: string;
}
