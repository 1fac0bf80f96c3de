import { codeBytes } from "../../format/quantize";
import { binaryScore, binaryTables, int8Dot } from "../score";
import type { Arena } from "./arena";
import { KernelError } from "./errors";
import { asymmetricPlanes, signPlanes, type BitPlanes } from "./query";
import type { BinaryMode, CodeBlock, Int8Block, PreparedQuery } from "./types";
import { checkRange } from "./wasm-kernels";

/**
 * The JS reference kernels (score.ts over arena views), with the interface of the wasm ones: the fallback where
 * wasm SIMD is missing or the dims are not a multiple of 16 up to 1024, and the reference of the parity tests.
 */
export function referenceQuery(arena: Arena, query: Float32Array, mode: BinaryMode): PreparedQuery {
  const dims = query.length;
  const q = Float32Array.from(query);
  const bytes = codeBytes(dims);
  let binary: ((codes: Uint8Array, i: number) => number) | undefined;
  let released = false;

  const live = () => {
    if (released) throw new KernelError("released", "kernels: this prepared query was released");
  };
  const prepareBinary = (): typeof binary => {
    if (mode === "table") {
      const table = binaryTables(q);
      return (codes, i) => binaryScore(table, codes, bytes, i);
    }
    const planes = mode === "planes" ? asymmetricPlanes(q) : signPlanes(q);
    return (codes, i) => planeScore(planes, codes, bytes, i);
  };

  return {
    dims,
    simd: false,
    int8Scores(block: Int8Block, out: number) {
      live();
      checkRange(arena, "vectors", block.vectors, block.count * dims, 1);
      checkRange(arena, "scales", block.scales, block.count * 4, 4);
      checkRange(arena, "out", out, block.count * 4, 4);
      const vectors = arena.int8At(block.vectors, block.count * dims);
      const scales = arena.f32At(block.scales, block.count);
      const scores = arena.f32At(out, block.count);
      for (let i = 0; i < block.count; i++) scores[i] = int8Dot(q, vectors, scales, i);
    },
    binaryScores(block: CodeBlock, out: number) {
      live();
      checkRange(arena, "codes", block.codes, block.count * bytes, 1);
      checkRange(arena, "out", out, block.count * 4, 4);
      binary ??= prepareBinary();
      const codes = arena.u8At(block.codes, block.count * bytes);
      const scores = arena.f32At(out, block.count);
      for (let i = 0; i < block.count; i++) scores[i] = binary!(codes, i);
    },
    release() {
      released = true;
    },
  };
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v; v &= v - 1) n++;
  return n;
});

/** The bit-plane score of vector i (kernels.wat binary_plane_scores), byte by byte. */
function planeScore(p: BitPlanes, codes: Uint8Array, bytes: number, i: number): number {
  let ones = 0, total = 0;
  for (let j = 0; j < bytes; j++) {
    const x = codes[i * bytes + j];
    ones += POPCOUNT[x & p.bytes[j]];
    for (let k = 0; k < p.count; k++) total += POPCOUNT[x & p.bytes[(k + 1) * p.chunkBytes + j]] << k;
  }
  return p.alpha * ones + p.beta * total + p.gamma;
}
