/**
 * Scoring kernels over one vector shard. Vectors are int8 with a per-vector scale (x ≈ scale * q8) and
 * 1-bit sign codes (bit d of vector i set when x_d > 0, little-endian bit order within a byte).
 */

/**
 * The int8 inner product of the float query with vector `i`: scale_i * sum_d q_d * v_{i,d}. The reference the
 * kernels' int16-query score (kernels/quantize-query.ts `int8Score`, what every scan uses) is measured against.
 */
export function int8Dot(query: Float32Array, vectors: Int8Array, scales: Float32Array, i: number): number {
  const dims = query.length;
  const base = i * dims;
  let acc = 0;
  for (let d = 0; d < dims; d++) acc += query[d] * vectors[base + d];
  return acc * scales[i];
}

/**
 * Per-byte lookup tables for the asymmetric binary pass: table[j*256 + b] = sum over set bits t of b of
 * 2*q_{8j+t}, minus the sum of that byte's 8 query values. Summing one entry per code byte gives
 * q · sign(x) (with sign in {-1,+1}) in dims/8 lookups.
 */
export function binaryTables(query: Float32Array): Float32Array {
  const bytes = Math.ceil(query.length / 8);
  const table = new Float32Array(bytes * 256);
  for (let j = 0; j < bytes; j++) {
    let total = 0;
    for (let t = 0; t < 8; t++) total += query[8 * j + t] ?? 0;
    for (let b = 0; b < 256; b++) {
      let s = -total;
      for (let t = 0; t < 8; t++) if (b & (1 << t)) s += 2 * (query[8 * j + t] ?? 0);
      table[j * 256 + b] = s;
    }
  }
  return table;
}

/** q · sign(x_i) for vector `i`, from its sign code and the query's tables. */
export function binaryScore(table: Float32Array, codes: Uint8Array, bytesPerCode: number, i: number): number {
  const base = i * bytesPerCode;
  let acc = 0;
  for (let j = 0; j < bytesPerCode; j++) acc += table[(j << 8) | codes[base + j]];
  return acc;
}
