import type { Arena } from "./arena";
import { checkInt4Block, checkInt8Block, checkRange, checkRows } from "./bounds";
import { KernelError } from "./errors";
import { quantizeQuery16 } from "./quantize-query";
import type { CodeBlock, Int4Block, Int8Block, PreparedQuery } from "./types";

/** The functions kernels.wat exports; every pointer is an arena offset. */
export interface KernelExports {
  int8_scores(q16: number, dims: number, vectors: number, scales: number, count: number, qinv: number, out: number): void;
  int8_to_int4(vectors: number, scales: number, count: number, dims: number, packed: number, scales4: number): void;
  int4_scores(q16: number, dims: number, packed: number, scales: number, count: number, qinv: number, out: number): void;
  int8_row_scores(q16: number, dims: number, vectors: number, scales: number, rows: number, count: number, qinv: number, out: number): void;
  binary_tables(query: number, dims: number, tables: number): void;
  binary_table_scores(tables: number, codes: number, bytes: number, count: number, out: number): void;
  select_top(scores: number, count: number, k: number, hist: number, rows: number): [above: number, ties: number];
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

/** A query prepared in arena memory for the wasm kernels: its int16 copy now, its byte tables on first binary pass. */
export function wasmQuery(k: KernelExports, arena: Arena, query: Float32Array): PreparedQuery {
  const dims = query.length;
  const q16 = arena.alloc(2 * dims);
  const qinv = quantizeQuery16(query, arena.i16At(q16, dims));
  let tables = -1;
  let scratch = -1; // rows (u32) then their scores (f32), for int8RowScores
  let scratchRows = 0;
  let released = false;

  const live = () => {
    if (released) throw new KernelError("released", "kernels: this prepared query was released");
  };
  const buildTables = () => {
    tables = arena.alloc(dims * 128);
    const copy = arena.alloc(4 * dims);
    arena.f32At(copy, dims).set(query);
    k.binary_tables(copy, dims, tables);
    arena.free(copy);
  };
  const reserveRows = (n: number) => {
    if (n <= scratchRows) return;
    if (scratch >= 0) arena.free(scratch);
    scratch = arena.alloc(8 * n);
    scratchRows = n;
  };

  return {
    dims,
    simd: true,
    int8Scores(block: Int8Block, out: number) {
      live();
      checkInt8Block(arena, block, dims);
      checkRange(arena, "out", out, block.count * 4, 4);
      k.int8_scores(q16, dims, block.vectors, block.scales, block.count, qinv, out);
    },
    int4Scores(block: Int4Block, out: number) {
      live();
      checkInt4Block(arena, block, dims);
      checkRange(arena, "out", out, block.count * 4, 4);
      k.int4_scores(q16, dims, block.packed, block.scales, block.count, qinv, out);
    },
    int8RowScores(block: Int8Block, rows: Uint32Array) {
      live();
      checkInt8Block(arena, block, dims);
      checkRows(rows, block.count);
      reserveRows(rows.length);
      arena.u32At(scratch, rows.length).set(rows);
      const out = scratch + 4 * rows.length;
      k.int8_row_scores(q16, dims, block.vectors, block.scales, scratch, rows.length, qinv, out);
      return arena.f32At(out, rows.length).slice();
    },
    binaryScores(block: CodeBlock, out: number) {
      live();
      checkRange(arena, "codes", block.codes, block.count * (dims >>> 3), 1);
      checkRange(arena, "out", out, block.count * 4, 4);
      if (tables < 0) buildTables();
      k.binary_table_scores(tables, block.codes, dims >>> 3, block.count, out);
    },
    release() {
      if (released) return;
      released = true;
      for (const at of [q16, tables, scratch]) if (at >= 0) arena.free(at);
    },
  };
}
