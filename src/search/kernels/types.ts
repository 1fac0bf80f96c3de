import type { Arena } from "./arena";

/** `count` int8 vectors (`dims` bytes each, at `vectors`) and their f32 scales (at `scales`), in arena memory. */
export interface Int8Block {
  vectors: number;
  scales: number;
  count: number;
}

/** `count` int4 rows (dims / 2 bytes each in the layout of int4.ts, at `packed`) and their f32 scales, in arena memory. */
export interface Int4Block {
  packed: number;
  scales: number;
  count: number;
}

/** `count` sign codes (dims/8 bytes each, at `codes`; bit d set when x_d > 0), in arena memory. */
export interface CodeBlock {
  codes: number;
  count: number;
}

/**
 * One query made ready for scoring in kernel memory (its int16 copy; its binary tables on first use). Block
 * passes write f32 scores at the arena offset `out` (4 * count bytes). Call `release` when done with the query.
 */
export interface PreparedQuery {
  readonly dims: number;
  /** True when this query runs on the wasm SIMD kernels, false on the JS reference. */
  readonly simd: boolean;
  /** out[i] = scale_i * (q · v_i) with the int16 query (quantize-query.ts int8Score), for every vector of the block. */
  int8Scores(block: Int8Block, out: number): void;
  /**
   * out[i] = scale_i * (q · v_i) over int4 rows (int4.ts int4Score), for every row of the block; dims must be a
   * multiple of 32 (int4Dims).
   */
  int4Scores(block: Int4Block, out: number): void;
  /** The int8 inner products of the listed rows of the block (rescoring): result[j] is row rows[j]'s. */
  int8RowScores(block: Int8Block, rows: Uint32Array): Float32Array;
  /** out[i] = q · sign(x_i), the binary pass of score.ts binaryTables/binaryScore, for every code of the block. */
  binaryScores(block: CodeBlock, out: number): void;
  /** Frees the query's kernel memory; later calls throw KernelError "released". */
  release(): void;
}

export interface Kernels {
  /** True when the wasm SIMD kernels are in use (queries of supported dims run on them). */
  readonly simd: boolean;
  readonly arena: Arena;
  /**
   * int8 rows in kernel memory to int4 rows (int4.ts toInt4, the same bits) at `out`, also in kernel memory; dims a
   * multiple of 32. On the wasm kernels unless `simd` is false or there are none.
   */
  toInt4(rows: Int8Block, dims: number, out: Int4Block, opts?: PrepareOptions): void;
  prepare(query: Float32Array, opts?: PrepareOptions): PreparedQuery;
  /**
   * The rows of the k highest of `count` f32 scores at arena offset `scores` (a block pass's `out`), in ascending
   * row order; of rows tied at the k-th score, the lower ones. For picking rescoring candidates (k in the
   * hundreds): for k near 10, createTopK over the scores is as fast.
   */
  selectTop(scores: number, count: number, k: number, opts?: PrepareOptions): Uint32Array;
}

export interface PrepareOptions {
  /** false: run this query on the JS reference even where wasm is available (parity checks, benchmarks). */
  simd?: boolean;
}
