/**
 * onnxruntime-web (wasm) inside workerd.
 *
 * Workers refuse to compile WebAssembly from bytes at request time, so the ORT wasm binary is imported as a
 * precompiled `WebAssembly.Module` (the `CompiledWasm` rule in wrangler.toml). ORT is given a placeholder
 * `wasmBinary`; when its Emscripten glue calls `WebAssembly.instantiate(placeholder, imports)` we hand back an
 * instance of the precompiled module instead. Single-threaded: Workers have no SharedArrayBuffer threads.
 */
import * as ort from "onnxruntime-web/wasm";
import ortWasmModule from "onnxruntime-web/ort-wasm-simd-threaded.wasm";
import { FormatError } from "../../format";
import { toInputs } from "../../text/tensors";
import type { ModelRunner, OnnxRuntime } from "./query-encoder";

const PLACEHOLDER = new Uint8Array([0x00, 0x61, 0x73, 0x6d]);
let configured = false;

function configureOrt(): void {
  if (configured) return;
  configured = true;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = PLACEHOLDER;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly);
  const patched = (source: unknown, imports?: WebAssembly.Imports) => {
    // Workers never compile wasm from bytes, so any byte source here is ORT asking for its own binary.
    if (!(source instanceof WebAssembly.Module)) {
      return instantiate(ortWasmModule, imports).then((instance) => ({ instance, module: ortWasmModule }));
    }
    return instantiate(source, imports);
  };
  (WebAssembly as { instantiate: unknown }).instantiate = patched;
}

/** Sessions this isolate created and released: every session an evicted encoder held must come back. */
export const sessionCounts = { created: 0, released: 0 };

/**
 * Creates an ORT inference session from ONNX bytes, with the wasm execution provider. A graph optimized at export
 * (manifest `model.graph`) is not optimized again: the same outputs, and a session a cold isolate has sooner.
 */
export async function createWasmSession(model: Uint8Array, graph?: "optimized"): Promise<ort.InferenceSession> {
  configureOrt();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: graph === "optimized" ? "disabled" : "all",
  });
  sessionCounts.created++;
  return session;
}

/** A query model in a new onnxruntime-web session (the full worker's OnnxRuntime: src/index.ts). */
export const onnxruntimeWeb: OnnxRuntime = async (model, graph, dim, maxTokens) => ortRunner(await createWasmSession(model, graph), dim, maxTokens);

/** Releases a session's wasm memory (once; counted in `sessionCounts`). */
export async function releaseSession(session: ort.InferenceSession): Promise<void> {
  sessionCounts.released++;
  await session.release();
}

/**
 * A query model in an onnxruntime-web session: one query's ids (`maxTokens` at most) in, output "embedding"
 * [1, dim] out. A model that fails on an input is a broken index (FormatError), not a bad request.
 */
export function ortRunner(session: ort.InferenceSession, dim: number, maxTokens: number): ModelRunner {
  return {
    engine: "onnxruntime",
    async run(ids) {
      const { inputIds, attentionMask, dims } = toInputs([ids], maxTokens);
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run({
          input_ids: new ort.Tensor("int64", inputIds, dims),
          attention_mask: new ort.Tensor("int64", attentionMask, dims),
        });
      } catch (e) {
        throw new FormatError("invalid_object", `query model failed to run: ${(e as Error).message}`, { cause: e });
      }
      const embedding = out.embedding;
      if (!embedding || embedding.dims[1] !== dim) {
        throw new FormatError("invalid_object", `query model output "embedding" expected [1, ${dim}], got ${embedding?.dims}`);
      }
      return new Float32Array(embedding.data as Float32Array);
    },
    release: () => releaseSession(session),
  };
}

export { ort };
