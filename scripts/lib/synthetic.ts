/**
 * Deterministic synthetic unit vectors for benchmarks: the same seed gives the same float32 vectors on every machine.
 *
 * - "uniform": random directions (a normalized standard Gaussian vector), the hardest case for graphs and
 *   partitions: every point is about as far from a query as every other.
 * - "clustered": `clusters` random unit centres; a point is normalize(centre + noise) with Gaussian noise of norm
 *   about `spread`, so a point's similarity to its centre is about 1 / sqrt(1 + spread^2) and two points of one
 *   cluster are about 1 / (1 + spread^2) apart (0.90 at the default 0.33): top-1 similarity near 0.9, neighbours
 *   separated in the third decimal, as with real passage embeddings.
 *
 * Base vectors and query vectors come from separate random streams of one seed, so queries are held out (never base
 * rows) and changing the number of queries does not change the base set.
 */

import { rng } from "../../src/random.ts";

export type Distribution = "clustered" | "uniform";
export const DISTRIBUTIONS: readonly Distribution[] = ["clustered", "uniform"];

export interface SyntheticOptions {
  distribution: Distribution;
  dims: number;
  seed: number;
  /** Number of cluster centres ("clustered" only). */
  clusters: number;
  /** Norm of the noise added to a centre before normalization ("clustered" only). */
  spread: number;
}

export const SYNTHETIC_DEFAULTS = { seed: 1, clusters: 1000, spread: 0.33 } as const;


/** Standard normal draws from a uniform generator (Box-Muller, both values of each pair used). */
export function seededGaussian(rand: () => number): () => number {
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const z = spare;
      spare = NaN;
      return z;
    }
    const u = 1 - rand(); // (0, 1]: log(u) is finite
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * rand();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

/** Scales row `row` of `out` (row-major, `dims` wide) to unit length. */
function normalizeRow(out: Float32Array, row: number, dims: number): void {
  const base = row * dims;
  let sq = 0;
  for (let i = 0; i < dims; i++) sq += out[base + i] * out[base + i];
  const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  for (let i = 0; i < dims; i++) out[base + i] *= inv;
}

/** Random unit directions, row-major. */
function randomDirections(count: number, dims: number, gauss: () => number): Float32Array {
  const out = new Float32Array(count * dims);
  for (let v = 0; v < count; v++) {
    for (let i = 0; i < dims; i++) out[v * dims + i] = gauss();
    normalizeRow(out, v, dims);
  }
  return out;
}

/** normalize(centre + noise) for `count` points, each around a centre drawn uniformly at random. */
function aroundCentres(count: number, centres: Float32Array, o: SyntheticOptions, rand: () => number): Float32Array {
  const { dims } = o;
  const gauss = seededGaussian(rand);
  const sigma = o.spread / Math.sqrt(dims);
  const out = new Float32Array(count * dims);
  for (let v = 0; v < count; v++) {
    const c = Math.floor(rand() * o.clusters) * dims;
    for (let i = 0; i < dims; i++) out[v * dims + i] = centres[c + i] + sigma * gauss();
    normalizeRow(out, v, dims);
  }
  return out;
}

/** Independent streams of one seed: 0 = centres, 1 = base vectors, 2 = queries. */
function stream(seed: number, which: 0 | 1 | 2): () => number {
  return rng(Math.imul(seed, 3) + which + 0x5eed);
}

/**
 * `count` unit vectors (row-major float32) of the distribution, from the base stream (`role` "base") or the held-out
 * query stream (`role` "queries") of the seed.
 *
 * @example
 * const base = syntheticVectors(100_000, "base", { distribution: "clustered", dims: 512, ...SYNTHETIC_DEFAULTS });
 * const queries = syntheticVectors(200, "queries", { distribution: "clustered", dims: 512, ...SYNTHETIC_DEFAULTS });
 */
export function syntheticVectors(count: number, role: "base" | "queries", o: SyntheticOptions): Float32Array {
  const rand = stream(o.seed, role === "base" ? 1 : 2);
  if (o.distribution === "uniform") return randomDirections(count, o.dims, seededGaussian(rand));
  const centres = randomDirections(o.clusters, o.dims, seededGaussian(stream(o.seed, 0)));
  return aroundCentres(count, centres, o, rand);
}
