import { codeBytes } from "../../format/quantize";
import { binaryScore, binaryTables } from "../score";
import type { Arena } from "./arena";
import { checkInt4Block, checkInt8Block, checkRange, checkRows } from "./bounds";
import { KernelError } from "./errors";
import { int8Score, quantizeQuery } from "./quantize-query";
import { int4Score } from "./int4";
import type { CodeBlock, Int4Block, Int8Block, PreparedQuery } from "./types";

/**
 * The JS reference kernels (score.ts and quantize-query.ts over arena views), with the interface of the wasm ones:
 * the fallback where wasm SIMD is missing or the dims are not a multiple of 16 up to 1024, and the reference of the
 * parity tests. int8 scores use the same int16 query as the wasm kernels and equal theirs bit for bit.
 */
export function referenceQuery(arena: Arena, query: Float32Array): PreparedQuery {
  const dims = query.length;
  const q = Float32Array.from(query);
  const q16 = quantizeQuery(q);
  const bytes = codeBytes(dims);
  let table: Float32Array | undefined;
  let released = false;

  const live = () => {
    if (released) throw new KernelError("released", "kernels: this prepared query was released");
  };
  const int8Views = (block: Int8Block) => {
    checkInt8Block(arena, block, dims);
    return { vectors: arena.int8At(block.vectors, block.count * dims), scales: arena.f32At(block.scales, block.count) };
  };

  return {
    dims,
    simd: false,
    int8Scores(block: Int8Block, out: number) {
      live();
      const { vectors, scales } = int8Views(block);
      checkRange(arena, "out", out, block.count * 4, 4);
      const scores = arena.f32At(out, block.count);
      for (let i = 0; i < block.count; i++) scores[i] = int8Score(q16, vectors, scales, i);
    },
    int4Scores(block: Int4Block, out: number) {
      live();
      checkInt4Block(arena, block, dims);
      checkRange(arena, "out", out, block.count * 4, 4);
      const packed = arena.u8At(block.packed, block.count * (dims >>> 1));
      const scales = arena.f32At(block.scales, block.count);
      const scores = arena.f32At(out, block.count);
      for (let i = 0; i < block.count; i++) scores[i] = int4Score(q16, packed, scales, i);
    },
    int8RowScores(block: Int8Block, rows: Uint32Array) {
      live();
      const { vectors, scales } = int8Views(block);
      checkRows(rows, block.count);
      return Float32Array.from(rows, (r) => int8Score(q16, vectors, scales, r));
    },
    binaryScores(block: CodeBlock, out: number) {
      live();
      checkRange(arena, "codes", block.codes, block.count * bytes, 1);
      checkRange(arena, "out", out, block.count * 4, 4);
      table ??= binaryTables(q);
      const codes = arena.u8At(block.codes, block.count * bytes);
      const scores = arena.f32At(out, block.count);
      for (let i = 0; i < block.count; i++) scores[i] = binaryScore(table, codes, bytes, i);
    },
    release() {
      released = true;
    },
  };
}
