import type { Arena } from "./arena";
import { KernelError } from "./errors";
import { asymmetricPlanes, planeChunkBytes, quantizeQuery16, signPlanes } from "./query";
import type { BinaryMode, CodeBlock, Int8Block, PreparedQuery } from "./types";

/** The functions kernels.wat exports; every pointer is an arena offset. */
export interface KernelExports {
  int8_scores(q16: number, dims: number, vectors: number, scales: number, count: number, qinv: number, out: number): void;
  binary_tables(query: number, dims: number, tables: number): void;
  binary_table_scores(tables: number, codes: number, bytes: number, count: number, out: number): void;
  binary_plane_scores(
    planes: number, nplanes: number, chunkBytes: number, codes: number, bytes: number, count: number,
    alpha: number, beta: number, gamma: number, out: number,
  ): void;
}

/** Instantiates kernels.wasm over the arena's memory. */
export function instantiateKernels(module: WebAssembly.Module, arena: Arena): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory: arena.memory } });
  return instance.exports as unknown as KernelExports;
}

/** Dims the wasm kernels take: a multiple of 16, at most 1024. */
export function wasmDims(dims: number): boolean {
  return dims > 0 && dims <= 1024 && dims % 16 === 0;
}

/**
 * A query prepared in arena memory for the wasm kernels: its int16 copy now, the binary tables or planes on the
 * first binary pass.
 */
export function wasmQuery(k: KernelExports, arena: Arena, query: Float32Array, mode: BinaryMode): PreparedQuery {
  const dims = query.length;
  const bytes = dims >>> 3;
  const held: number[] = [];
  const hold = (n: number) => {
    const at = arena.alloc(n);
    held.push(at);
    return at;
  };
  const q16 = hold(2 * dims);
  const qinv = quantizeQuery16(query, arena.i16At(q16, dims));
  let binary: ((codes: number, count: number, out: number) => void) | undefined;
  let released = false;

  const live = () => {
    if (released) throw new KernelError("released", "kernels: this prepared query was released");
  };
  const prepareBinary = (): typeof binary => {
    if (mode === "table") {
      const tables = hold(dims * 128);
      const copy = arena.alloc(4 * dims);
      arena.f32At(copy, dims).set(query);
      k.binary_tables(copy, dims, tables);
      arena.free(copy);
      return (codes, count, out) => k.binary_table_scores(tables, codes, bytes, count, out);
    }
    const p = mode === "planes" ? asymmetricPlanes(query) : signPlanes(query);
    const planes = hold(p.bytes.length);
    arena.u8At(planes, p.bytes.length).set(p.bytes);
    return (codes, count, out) =>
      k.binary_plane_scores(planes, p.count, p.chunkBytes, codes, bytes, count, p.alpha, p.beta, p.gamma, out);
  };

  return {
    dims,
    simd: true,
    int8Scores(block: Int8Block, out: number) {
      live();
      checkRange(arena, "vectors", block.vectors, block.count * dims, 1);
      checkRange(arena, "scales", block.scales, block.count * 4, 4);
      checkRange(arena, "out", out, block.count * 4, 4);
      k.int8_scores(q16, dims, block.vectors, block.scales, block.count, qinv, out);
    },
    binaryScores(block: CodeBlock, out: number) {
      live();
      // The plane kernels read whole 16-byte chunks: up to 15 bytes past the last code.
      const overrun = mode === "table" ? 0 : planeChunkBytes(dims) - bytes;
      checkRange(arena, "codes", block.codes, block.count * bytes + (block.count > 0 ? overrun : 0), 1);
      checkRange(arena, "out", out, block.count * 4, 4);
      binary ??= prepareBinary();
      binary!(block.codes, block.count, out);
    },
    release() {
      if (released) return;
      released = true;
      for (const at of held) arena.free(at);
    },
  };
}

/** Throws KernelError "out_of_bounds" unless [offset, offset + bytes) lies in memory at the given alignment. */
export function checkRange(arena: Arena, what: string, offset: number, bytes: number, align: number): void {
  const size = arena.memory.buffer.byteLength;
  if (!(Number.isInteger(offset) && offset >= 0 && offset % align === 0 && offset + bytes <= size)) {
    throw new KernelError("out_of_bounds", `kernels: ${what} [${offset}, +${bytes}) is not ${align}-aligned within memory (${size} bytes)`);
  }
}
