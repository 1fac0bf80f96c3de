// int4 rows: a partition's int8 rows quantized again to 4 bits, half their memory, for a scan whose best candidates
// are re-scored from refine rows (src/search/ivf.ts). Derived when a partition is loaded: the index's objects keep int8
// (src/format/shard.ts), and an index scans int4 only where its plan measured the recall (manifest search.scan). A
// worker shares the rows it derived through the colo cache (src/format/int4-partition.ts), keyed by INT4_ROWS_VERSION:
// a change to how they are made (the rounding below, or the kernel's int8_to_int4) must bump it, or isolates would
// take rows made the old way.
//
// Layout: a row is dims / 2 bytes, in groups of 32 dims; byte j (0..15) of group g holds dim 32g + j in its low nibble
// and dim 32g + 16 + j in its high nibble, each the value v in -7..7 stored as v + 8 (1..15, unsigned: the kernel
// takes a nibble with one mask, and subtracts 8 times the query's sum once a row). So the low nibbles of 16 bytes
// are 16 consecutive dims, as are the high ones: the kernels widen them against the int16 query with no shuffle.
import { KernelError } from "./errors";
import type { QuantizedQuery } from "./quantize-query";

/** The version of how int4 rows are made from int8 ones (see above): part of the colo key of rows made before. */
export const INT4_ROWS_VERSION = 1;

/** Dims per group of the layout; an int4 row needs dims a multiple of it. */
export const INT4_GROUP = 32;

/** Whether rows of `dims` can be held as int4. */
export function int4Dims(dims: number): boolean {
  return dims > 0 && dims % INT4_GROUP === 0;
}

/** `count` int4 rows (dims / 2 bytes each) and their f32 scales. */
export interface Int4Rows {
  count: number;
  packed: Uint8Array;
  scales: Float32Array;
}

/**
 * int8 rows (with their scales) to int4: per row, m = max |v8| of the row, f = f32(7 / m), v4 = the nibble of v8
 * (int4Nibble: v8 * f rounded half up, in float32 steps), and scale4 = f32(f32(scale8 * m) / 7), so v4 * scale4
 * approximates v8 * scale8. A zero row stays zero (scale 0). Every step is a float32 operation, so the kernels'
 * int8_to_int4 gives the same bits (the JS reference; the worker converts in kernel memory: Kernels.toInt4).
 *
 * @example
 * const rows = toInt4(shard.vectors, shard.scales, shard.header.count, dims);
 */
export function toInt4(vectors: Int8Array, scales: Float32Array, count: number, dims: number): Int4Rows {
  if (!int4Dims(dims)) throw new KernelError("bad_size", `int4: dims must be a multiple of ${INT4_GROUP}, got ${dims}`);
  if (vectors.length < count * dims || scales.length < count) throw new KernelError("bad_size", `int4: ${count} rows of ${dims} dims do not fit the arrays given`);
  const half = dims >>> 1;
  const packed = new Uint8Array(count * half);
  const out = new Float32Array(count);
  // The nibble of each int8 value for the row's m (index v + 128): one rounding per value of -m..m, not per dim.
  const nibble = new Uint8Array(256);
  const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, count * dims);
  for (let i = 0; i < count; i++) {
    const row = i * dims;
    let m = 0;
    for (let d = 0; d < dims; d++) {
      const v = vectors[row + d];
      if (v > m) m = v;
      else if (-v > m) m = -v;
    }
    if (m === 0) {
      packed.fill(0x88, i * half, (i + 1) * half); // every value 0
      continue;
    }
    const f = Math.fround(7 / m);
    for (let v = -m; v <= Math.min(m, 127); v++) nibble[(v + 128) & 0xff] = int4Nibble(v, f) + 8; // m is 128 only for -128
    out[i] = Math.fround(Math.fround(scales[i] * m) / 7);
    const at = i * half;
    for (let g = 0; g < dims; g += INT4_GROUP) {
      const b = at + (g >>> 1), lo = row + g, hi = lo + 16;
      // (byte + 128) & 0xff is the int8 value + 128: bytes hold two's complement
      for (let j = 0; j < 16; j++) packed[b + j] = nibble[(bytes[lo + j] + 128) & 0xff] | (nibble[(bytes[hi + j] + 128) & 0xff] << 4);
    }
  }
  return { count, packed, scales: out };
}

/**
 * The int4 value of int8 value `v` for a row's f = f32(7 / m): floor(f32(f32(v * f) + 0.5)), each step a float32
 * operation (a product or sum of two float32 values rounded once to float32, as f32.mul and f32.add do), in -7..7.
 */
export function int4Nibble(v: number, f: number): number {
  return Math.floor(Math.fround(Math.fround(v * f) + 0.5));
}

/** Value of dim `d` of row `i` (for tests and readers of the layout). */
export function int4Value(packed: Uint8Array, dims: number, i: number, d: number): number {
  const g = d - (d % INT4_GROUP);
  const j = d % INT4_GROUP;
  const byte = packed[(i * dims + g) / 2 + (j & 15)];
  return (j < 16 ? byte & 0xf : byte >>> 4) - 8;
}

/**
 * The int4 score of row `i` exactly as the wasm kernels compute it: the integer sum q16 · v4 (exact), converted to
 * float32, times qinv, times scale_i, each product rounded to float32 (the rounding of int8Score).
 */
export function int4Score(q: QuantizedQuery, packed: Uint8Array, scales: Float32Array, i: number): number {
  const { q16, qinv } = q;
  const dims = q16.length;
  const at = (i * dims) >>> 1;
  let acc = 0;
  for (let g = 0; g < dims; g += INT4_GROUP) {
    const b = at + (g >>> 1);
    for (let j = 0; j < 16; j++) {
      const byte = packed[b + j];
      acc += q16[g + j] * ((byte & 0xf) - 8) + q16[g + 16 + j] * ((byte >>> 4) - 8);
    }
  }
  return Math.fround(Math.fround(Math.fround(acc) * qinv) * scales[i]);
}
