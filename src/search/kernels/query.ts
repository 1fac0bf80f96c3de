/**
 * What the wasm kernels need from a float query: an int16 copy for int8 dot products and bit-planes for the
 * binary pass. Pure functions over caller-provided arrays.
 */

/**
 * Quantizes `query` into `out` (same length) with one scale chosen so that an int32 sum of dims products with
 * int8 lanes (|v| <= 128) cannot overflow: max|out| <= min(32767, (2^31 - 1) / (dims * 128)). Returns the factor
 * that turns such a sum back into float units (0 for a zero query).
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

/** Bit-planes and the affine map that turns their popcounts into a score (see kernels.wat binary_plane_scores). */
export interface BitPlanes {
  /** The mask plane (bits below dims), then `count` planes, each `chunkBytes` long. */
  bytes: Uint8Array;
  count: number;
  chunkBytes: number;
  alpha: number;
  beta: number;
  gamma: number;
}

/** Bytes of one plane: the code length rounded up to whole 16-byte chunks. */
export function planeChunkBytes(dims: number): number {
  return Math.ceil(dims / 128) * 16;
}

/**
 * Asymmetric planes for q · sign(x) = 2 * sum_{d: x_d > 0} q_d - sum q, with q_d ≈ lo + delta * u_d and u_d an
 * unsigned `bits`-bit integer whose bit k is plane k: score = 2lo * popcount(x) + 2delta * sum_k 2^k popcount(x & plane_k) - sum q.
 */
export function asymmetricPlanes(query: Float32Array, bits = 8): BitPlanes {
  const dims = query.length;
  let lo = Infinity, hi = -Infinity, sum = 0;
  for (let d = 0; d < dims; d++) {
    lo = Math.min(lo, query[d]);
    hi = Math.max(hi, query[d]);
    sum += query[d];
  }
  const delta = (hi - lo) / ((1 << bits) - 1);
  const planes = emptyPlanes(dims, bits);
  for (let d = 0; d < dims; d++) {
    const u = delta > 0 ? Math.round((query[d] - lo) / delta) : 0;
    for (let k = 0; k < bits; k++) if (u & (1 << k)) setBit(planes, k + 1, d);
  }
  return { ...planes, alpha: 2 * lo, beta: 2 * delta, gamma: -sum };
}

/**
 * Symmetric planes: sign(q) · sign(x) * mean|q|, from one plane (bits where q_d > 0):
 * sign(q) · sign(x) = 4 popcount(x & qbits) - 2 popcount(x) + dims - 2 popcount(qbits).
 */
export function signPlanes(query: Float32Array): BitPlanes {
  const dims = query.length;
  let absSum = 0, positive = 0;
  const planes = emptyPlanes(dims, 1);
  for (let d = 0; d < dims; d++) {
    absSum += Math.abs(query[d]);
    if (query[d] > 0) {
      setBit(planes, 1, d);
      positive++;
    }
  }
  const m = absSum / dims;
  return { ...planes, alpha: -2 * m, beta: 4 * m, gamma: (dims - 2 * positive) * m };
}

function emptyPlanes(dims: number, count: number) {
  const chunkBytes = planeChunkBytes(dims);
  const bytes = new Uint8Array((count + 1) * chunkBytes);
  const planes = { bytes, count, chunkBytes };
  for (let d = 0; d < dims; d++) setBit(planes, 0, d);
  return planes;
}

function setBit(p: { bytes: Uint8Array; chunkBytes: number }, plane: number, d: number): void {
  p.bytes[plane * p.chunkBytes + (d >>> 3)] |= 1 << (d & 7);
}
