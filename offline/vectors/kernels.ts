// The scoring kernels in Node: src/search/kernels/kernels.wasm (built by `npm install`) compiled from the file, or
// the JS reference where it is missing or the engine has no wasm SIMD.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compileKernels, createKernels, type Kernels } from "../../src/search/kernels/index.ts";

const WASM = fileURLToPath(new URL("../../src/search/kernels/kernels.wasm", import.meta.url));

/** Kernels over an arena of at most `maxBytes`; `log` hears when they fall back to JS. */
export function nodeKernels(maxBytes: number, log: (m: string) => void = () => {}): Kernels {
  return createKernels(kernelsModule(log), { maxBytes });
}

/** kernels.wasm compiled (once a process), or undefined where it is missing or the engine has no wasm SIMD. */
export function kernelsModule(log: (m: string) => void = () => {}): WebAssembly.Module | undefined {
  if (compiled) return compiled.module;
  let module: WebAssembly.Module | undefined;
  try {
    module = compileKernels(readFileSync(WASM));
    if (!module) log("kernels: this engine has no wasm SIMD; scoring in JS");
  } catch (e) {
    log(`kernels: ${WASM} not usable (${(e as Error).message}); scoring in JS (run npm run build:kernels)`);
  }
  compiled = { module };
  return module;
}

let compiled: { module: WebAssembly.Module | undefined } | undefined;
