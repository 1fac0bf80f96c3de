// What a worker entry serves (src/index.ts, src/index-lite.ts): the app over one index registry per isolate,
// configured from the first request's env (validated: src/worker/env.ts), the kernels given to it.
import { configOf, type Env } from "./env";
import { createApp } from "./app";
import { createRegistry, type IndexRegistry } from "./store/registry";
import { backoffWith } from "./store/load-failure";
import type { App } from "./routes/app";
import type { OnnxRuntime } from "./encoder/query-encoder";
import kernels from "../search/kernels/kernels.wasm";

/**
 * The worker's app. `onnxruntime`: where a query model the kernels do not take runs (the full worker's onnxruntime-web);
 * without it the bundle holds no onnxruntime, and an index with such a model answers 503 `index_unavailable`.
 *
 * @example
 * export default isolateWorker({ onnxruntime: onnxruntimeWeb });
 */
export function isolateWorker(opts: { onnxruntime?: OnnxRuntime }): App {
  let registry: IndexRegistry | null = null;
  return createApp((env: Env) => {
    if (registry) return registry;
    const { pointerTtlMs, cacheBudgetBytes, loadRetryMs } = configOf(env);
    registry = createRegistry({ pointerTtlMs, cacheBudgetBytes, backoff: backoffWith(loadRetryMs), kernels, onnxruntime: opts.onnxruntime });
    return registry;
  });
}
