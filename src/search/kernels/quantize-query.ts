/**
 * Quantizes `query` into `out` (same length) with one scale chosen so that an int32 sum of dims products with
 * int8 lanes (|v| <= 128) cannot overflow: max|out| <= min(32767, (2^31 - 1) / (dims * 128)). Returns the factor
 * that turns such a sum back into float units (0 for a zero query). The rounding moves a score by at most
 * scale_i * sum_d |v_d| * factor / 2, about 1e-5 of the score range on unit vectors (see kernels.test.ts).
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
  return maxAbs / qmax;
}
