// The Worker's entry: the app (src/worker/app.ts) over one index registry per isolate.
import type { Env } from "./worker/env";
import { createApp } from "./worker/app";
import { createRegistry, type IndexRegistry } from "./worker/store/registry";
import { backoffWith } from "./worker/store/load-failure";
import kernels from "./search/kernels/kernels.wasm";

let registry: IndexRegistry | null = null;
/** One registry per isolate, configured from the first request's env. */
function registryFor(env: Env): IndexRegistry {
  registry ??= createRegistry({
    pointerTtlMs: Number(env.POINTER_TTL_MS ?? 10_000),
    backoff: backoffWith(Number(env.LOAD_RETRY_MS ?? 2_000)),
    cacheBudgetBytes: Number(env.CACHE_BUDGET_BYTES ?? 64 * 1024 * 1024),
    kernels,
  });
  return registry;
}

export default createApp(registryFor);
