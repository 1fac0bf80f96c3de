import type { Arena } from "./arena";

/** `count` int8 vectors (`dims` bytes each, at `vectors`) and their f32 scales (at `scales`), in arena memory. */
export interface Int8Block {
  vectors: number;
  scales: number;
  count: number;
}

/** `count` sign codes (dims/8 bytes each, at `codes`; bit d set when x_d > 0), in arena memory. */
export interface CodeBlock {
  codes: number;
  count: number;
}

/**
 * How the binary pass scores q · sign(x):
 * - "table": exactly, with per-byte lookup tables (score.ts binaryTables/binaryScore);
 * - "planes": with the query quantized to 8-bit bit-planes and SIMD popcounts (asymmetric, error below 1%);
 * - "sign": sign(q) · sign(x) scaled by mean |q| (symmetric, Hamming distance by popcount).
 */
export type BinaryMode = "table" | "planes" | "sign";

/**
 * One query made ready for scoring (quantized, tables built) in kernel memory. Scores are written as f32 at the
 * arena offset `out` (4 * count bytes). Call `release` when the query is done with.
 */
export interface PreparedQuery {
  readonly dims: number;
  /** True when this query runs on the wasm SIMD kernels, false on the JS reference. */
  readonly simd: boolean;
  /** out[i] = scale_i * (q · v_i): the int8 inner product (score.ts int8Dot). */
  int8Scores(block: Int8Block, out: number): void;
  /** out[i] = the binary pass score of vector i (see BinaryMode). */
  binaryScores(block: CodeBlock, out: number): void;
  release(): void;
}

export interface Kernels {
  /** True when the wasm SIMD kernels are in use (queries of supported dims run on them). */
  readonly simd: boolean;
  readonly arena: Arena;
  /** The binary pass prepare uses unless told otherwise. */
  readonly binary: BinaryMode;
  prepare(query: Float32Array, opts?: PrepareOptions): PreparedQuery;
}

export interface PrepareOptions {
  binary?: BinaryMode;
  /** false: run this query on the JS reference even where wasm is available (parity checks, benchmarks). */
  simd?: boolean;
}
