import { createArena, type Arena } from "./arena";
import { checkInt4Block, checkInt8Block } from "./bounds";
import { KernelError } from "./errors";
import { toInt4 } from "./int4";
import { referenceQuery } from "./reference";
import { selectTop } from "./select";
import type { Kernels } from "./types";
import { instantiateKernels, wasmDims, wasmQuery } from "./wasm-kernels";

export { compileKernels, hasWasmSimd } from "./compile";
export { createArena, type Arena, type ArenaOptions, type ArenaStats } from "./arena";
export { KernelError, type KernelErrorCode } from "./errors";
export { int8Score, quantizeQuery, type QuantizedQuery } from "./quantize-query";
export { INT4_GROUP, INT4_ROWS_VERSION, int4Dims, int4Score, int4Value, toInt4, type Int4Rows } from "./int4";
export type { CodeBlock, Int4Block, Int8Block, Kernels, PreparedQuery, PrepareOptions } from "./types";

export interface KernelOptions {
  /** Cap on the kernels' memory (the arena), in bytes. */
  maxBytes: number;
  /** Memory to start with (default 64 KiB). */
  initialBytes?: number;
}

/**
 * Scoring kernels over one arena. With `module` (kernels.wasm, compiled by the caller: the worker imports it as a
 * module, Node compiles the file; where the engine has no wasm SIMD that compile fails and the caller passes
 * undefined) queries whose dims are a multiple of 16 up to 1024 run on wasm SIMD; otherwise every query runs on
 * the JS reference, with the same results (int8 scores to the bit: both use the int16 query of quantize-query.ts).
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
  const exports = module && instantiateKernels(module, arena);
  return {
    simd: exports !== undefined,
    arena,
    prepare(query, { simd = true } = {}) {
      return exports && simd && wasmDims(query.length) ? wasmQuery(exports, arena, query) : referenceQuery(arena, query);
    },
    toInt4(rows, dims, out, { simd = true } = {}) {
      checkInt8Block(arena, rows, dims);
      checkInt4Block(arena, out, dims);
      if (out.count !== rows.count) throw new KernelError("bad_size", `kernels: int4 block of ${out.count} rows for ${rows.count} int8 rows`);
      if (exports && simd) return exports.int8_to_int4(rows.vectors, rows.scales, rows.count, dims, out.packed, out.scales);
      const r = toInt4(arena.int8At(rows.vectors, rows.count * dims), arena.f32At(rows.scales, rows.count), rows.count, dims);
      arena.u8At(out.packed, r.packed.length).set(r.packed);
      arena.f32At(out.scales, rows.count).set(r.scales);
    },
    selectTop(scores, count, k, { simd = true } = {}) {
      return selectTop(simd ? exports : undefined, arena, scores, count, k);
    },
  };
}
