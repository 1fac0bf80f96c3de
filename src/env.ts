/** Bindings of the worker (wrangler.toml). */
export interface Env {
  /** Index objects, manifests, pointers and models, under `tenants/<tenant>/indexes/<index>/`. */
  INDEXES: R2Bucket;
  /** How often (ms) a warm isolate re-reads an index's `current` pointer. */
  POINTER_TTL_MS?: string;
  /** Isolate cache budget (bytes) for models, manifests and shards. */
  CACHE_BUDGET_BYTES?: string;
}
