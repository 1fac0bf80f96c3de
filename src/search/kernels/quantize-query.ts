/** A query quantized for the int8 kernels: `q16` (int16 lanes) and the factor that turns q16 · v back into float. */
export interface QuantizedQuery {
  q16: Int16Array;
  /** A float32 value (the wasm kernels take it as f32): q · v ≈ qinv * (q16 · v). 0 for a zero query. */
  qinv: number;
}

/**
 * Quantizes `query` into `out` (same length) with one scale chosen so that an int32 sum of dims products with
 * int8 lanes (|v| <= 128) cannot overflow: max|out| <= min(32767, (2^31 - 1) / (dims * 128)). Returns the factor,
 * rounded to float32, that turns such a sum back into float units (0 for a zero query). The rounding moves a score
 * by at most scale_i * sum_d |v_d| * factor / 2, about 1e-5 of the score range on unit vectors (see kernels.test.ts).
 *
 * @example
 * const q16 = new Int16Array(query.length);
 * const factor = quantizeQuery16(query, q16); // q · v ≈ factor * (q16 · v)
 */
export function quantizeQuery16(query: Float32Array, out: Int16Array): number {
  const dims = query.length;
  let maxAbs = 0;
  for (let d = 0; d < dims; d++) maxAbs = Math.max(maxAbs, Math.abs(query[d]));
  if (maxAbs === 0) {
    out.fill(0);
    return 0;
  }
  const qmax = Math.min(32767, Math.floor(0x7fffffff / (dims * 128)));
  const scale = qmax / maxAbs;
  for (let d = 0; d < dims; d++) out[d] = Math.round(query[d] * scale);
  return Math.fround(maxAbs / qmax);
}

/** `query` quantized by quantizeQuery16 into a new array. */
export function quantizeQuery(query: Float32Array): QuantizedQuery {
  const q16 = new Int16Array(query.length);
  return { q16, qinv: quantizeQuery16(query, q16) };
}

/**
 * The int8 score of vector `i` exactly as the wasm kernels compute it: the integer sum q16 · v_i (exact: no
 * overflow by the choice of scale), converted to float32, times qinv, times scale_i, each product rounded to
 * float32. Every path that scores int8 rows against a query (wasm, this JS reference, offline, worker) gives the
 * same bits.
 *
 * @example
 * const q = quantizeQuery(queryVector);
 * for (let i = 0; i < count; i++) out[i] = int8Score(q, vectors, scales, i);
 */
export function int8Score(q: QuantizedQuery, vectors: Int8Array, scales: Float32Array, i: number): number {
  const { q16, qinv } = q;
  const dims = q16.length;
  const base = i * dims;
  let acc = 0;
  for (let d = 0; d < dims; d++) acc += q16[d] * vectors[base + d];
  return Math.fround(Math.fround(Math.fround(acc) * qinv) * scales[i]);
}
