// What the kernel tests share: kernels.wasm as `npm test` builds it, and random unit rows.
import { existsSync, readFileSync, statSync } from "node:fs";
import { compileKernels } from "../../../../src/search/kernels";

const wasmPath = new URL("../../../../src/search/kernels/kernels.wasm", import.meta.url);
const watPath = new URL("../../../../src/search/kernels/kernels.wat", import.meta.url);

/** kernels.wasm as npm test builds it (a plain `vitest run` does not: then it must not be missing or stale). */
export function loadKernelsModule(): WebAssembly.Module {
  if (!existsSync(wasmPath) || statSync(wasmPath).mtimeMs < statSync(watPath).mtimeMs) {
    throw new Error("src/search/kernels/kernels.wasm is missing or older than kernels.wat: run npm run build:kernels");
  }
  const module = compileKernels(readFileSync(wasmPath));
  if (!module) throw new Error("this Node has no wasm SIMD");
  return module;
}

/** `n` random unit rows of `dims` (uniform components, normalized). */
export function unitVectors(n: number, dims: number, r: () => number): Float32Array {
  const out = Float32Array.from({ length: n * dims }, () => r() - 0.5);
  for (let i = 0; i < n; i++) {
    const row = out.subarray(i * dims, (i + 1) * dims);
    const norm = Math.hypot(...row);
    row.forEach((x, d) => (row[d] = x / norm));
  }
  return out;
}
