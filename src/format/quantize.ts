// Per-vector symmetric int8 quantization and 1-bit sign codes.
//
// Error bound: with scale = max|x_i| / 127 and q_i = round(x_i / scale) (half away from zero, |q_i| <= 127),
// every component satisfies |x_i - scale * q_i| <= scale / 2 = max|x_i| / 254. For a unit vector of dim d the
// reconstruction error norm is at most sqrt(d) / 254 * max|x_i|, and an inner product with a unit query moves by
// at most that much (Cauchy-Schwarz). A zero vector gets scale 0 and all-zero codes.

/** Int8 vectors and their per-vector scales: x ≈ scales[v] * vectors[v * dims + i]. */
export interface Int8Vectors {
  vectors: Int8Array;
  scales: Float32Array;
}

/** Bytes of one sign code: ceil(dims / 8). */
export function codeBytes(dims: number): number {
  return (dims + 7) >>> 3;
}

function checkDims(length: number, dims: number): number {
  if (!Number.isInteger(dims) || dims <= 0) throw new RangeError(`dims must be a positive integer, got ${dims}`);
  if (length % dims !== 0) throw new RangeError(`vector data length ${length} is not a multiple of dims ${dims}`);
  return length / dims;
}

/**
 * Quantizes row-major float vectors to int8 with one symmetric scale per vector (max-abs / 127).
 *
 * @example
 * const { vectors, scales } = quantizeInt8(new Float32Array([0.5, -1, 0.25, 0]), 2);
 */
export function quantizeInt8(vectors: Float32Array, dims: number): Int8Vectors {
  const count = checkDims(vectors.length, dims);
  const q = new Int8Array(vectors.length);
  const scales = new Float32Array(count);
  for (let v = 0; v < count; v++) {
    const base = v * dims;
    let maxAbs = 0;
    for (let i = 0; i < dims; i++) {
      const a = Math.abs(vectors[base + i]);
      if (!(a <= Number.MAX_VALUE)) throw new RangeError(`vector ${v} has a non-finite component at ${i}`);
      if (a > maxAbs) maxAbs = a;
    }
    if (maxAbs === 0) continue;
    const scale = Math.fround(maxAbs / 127);
    scales[v] = scale;
    for (let i = 0; i < dims; i++) {
      const x = vectors[base + i] / scale;
      const r = Math.sign(x) * Math.round(Math.abs(x));
      q[base + i] = r > 127 ? 127 : r < -127 ? -127 : r;
    }
  }
  return { vectors: q, scales };
}

/** Back to float: x_i = scale * q_i. For tests and exact rescoring checks. */
export function dequantizeInt8(q: Int8Vectors, dims: number): Float32Array {
  const count = checkDims(q.vectors.length, dims);
  const out = new Float32Array(q.vectors.length);
  for (let v = 0; v < count; v++) {
    const s = q.scales[v];
    for (let i = 0; i < dims; i++) out[v * dims + i] = s * q.vectors[v * dims + i];
  }
  return out;
}

/**
 * 1-bit sign codes, ceil(dims/8) bytes per vector: bit i of a vector (byte i>>3, bit i&7, least significant first)
 * is 1 when x_i > 0. Padding bits of the last byte are 0.
 *
 * @example
 * signCodes(new Float32Array([1, -1, 0, 2]), 4); // Uint8Array [0b1001]
 */
export function signCodes(vectors: Float32Array | Int8Array, dims: number): Uint8Array {
  const count = checkDims(vectors.length, dims);
  const cb = codeBytes(dims);
  const codes = new Uint8Array(count * cb);
  for (let v = 0; v < count; v++) {
    const base = v * dims;
    const out = v * cb;
    for (let i = 0; i < dims; i++) {
      if (vectors[base + i] > 0) codes[out + (i >>> 3)] |= 1 << (i & 7);
    }
  }
  return codes;
}
