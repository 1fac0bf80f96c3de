// The Worker's entry: the app (src/worker/app.ts) over one index registry per isolate.
import { configOf, type Env } from "./worker/env";
import { createApp } from "./worker/app";
import { createRegistry, type IndexRegistry } from "./worker/store/registry";
import { backoffWith } from "./worker/store/load-failure";
import kernels from "./search/kernels/kernels.wasm";

let registry: IndexRegistry | null = null;
/** One registry per isolate, configured from the first request's env (validated: src/worker/env.ts). */
function registryFor(env: Env): IndexRegistry {
  if (registry) return registry;
  const { pointerTtlMs, cacheBudgetBytes, loadRetryMs } = configOf(env);
  registry = createRegistry({ pointerTtlMs, cacheBudgetBytes, backoff: backoffWith(loadRetryMs), kernels });
  return registry;
}

export default createApp(registryFor);
