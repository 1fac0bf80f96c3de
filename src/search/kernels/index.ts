import { createArena, type Arena } from "./arena";
import { referenceQuery } from "./reference";
import type { BinaryMode, Kernels } from "./types";
import { instantiateKernels, wasmDims, wasmQuery, type KernelExports } from "./wasm-kernels";

export { createArena, type Arena, type ArenaOptions, type ArenaStats } from "./arena";
export { KernelError, type KernelErrorCode } from "./errors";
export type { BinaryMode, CodeBlock, Int8Block, Kernels, PreparedQuery, PrepareOptions } from "./types";

export interface KernelOptions {
  /** Cap on the kernels' memory (the arena), in bytes. */
  maxBytes: number;
  /** Memory to start with (default 64 KiB). */
  initialBytes?: number;
  /** The binary pass (default "table": exact q · sign(x)). */
  binary?: BinaryMode;
}

/**
 * Scoring kernels over one arena. With `module` (kernels.wasm, compiled by the caller: the worker imports it as a
 * module, Node compiles the file) queries whose dims are a multiple of 16 up to 1024 run on wasm SIMD; without it,
 * or where the module does not instantiate, every query runs on the JS reference, with the same results within
 * the int16 query quantization (see README.md beside this file).
 *
 * @example
 * const kernels = createKernels(kernelsModule, { maxBytes: 64 << 20 });
 * const vectors = kernels.arena.alloc(count * dims); // decode a partition here once, score it many times
 * const q = kernels.prepare(queryVector);
 * q.int8Scores({ vectors, scales, count }, out);
 * const scores = kernels.arena.f32At(out, count);
 * q.release();
 */
export function createKernels(module: WebAssembly.Module | undefined, opts: KernelOptions): Kernels {
  const arena = createArena(opts);
  const binary = opts.binary ?? "table";
  const exports = module && tryInstantiate(module, arena);
  return {
    simd: exports !== undefined,
    arena,
    binary,
    prepare(query, { binary: mode = binary, simd = true } = {}) {
      return exports && simd && wasmDims(query.length)
        ? wasmQuery(exports, arena, query, mode)
        : referenceQuery(arena, query, mode);
    },
  };
}

function tryInstantiate(module: WebAssembly.Module, arena: Arena): KernelExports | undefined {
  try {
    return instantiateKernels(module, arena);
  } catch {
    return undefined;
  }
}
