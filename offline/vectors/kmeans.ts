// Spherical k-means (cosine): centroids are unit vectors, each row goes to the centroid of largest inner product.
// Trained on a sample (mini-batch style: at most `perCentroid` rows per centroid, as faiss does), with the
// assignment step on onnxruntime's GEMM. Deterministic for a given seed.
import type { TopKIp } from "./topk-ip.ts";
import { rng } from "../../src/random.ts";

export interface KMeansOptions {
  /** Lloyd iterations (default 12). */
  iterations?: number;
  /** Seed of the initial centroid choice (default 1). */
  seed?: number;
}


/** Scales each row of `v` to unit length in place (a zero row stays zero). */
export function normalizeRows(v: Float32Array, dims: number): Float32Array {
  for (let o = 0; o < v.length; o += dims) {
    let n = 0;
    for (let d = 0; d < dims; d++) n += v[o + d] * v[o + d];
    if (n > 0) {
      const inv = 1 / Math.sqrt(n);
      for (let d = 0; d < dims; d++) v[o + d] *= inv;
    }
  }
  return v;
}

/**
 * `k` unit centroids for the `rows` rows of `sample`. Empty clusters are re-seeded with the rows that fit their
 * centroid worst, so every centroid ends with members.
 *
 * @example
 * const centroids = await sphericalKMeans(topk, sample, 32_000, 512, 500);
 */
export async function sphericalKMeans(topk: TopKIp, sample: Float32Array, rows: number, dims: number, k: number, opts: KMeansOptions = {}): Promise<Float32Array> {
  if (k < 1 || k > rows) throw new RangeError(`k-means: k must be in 1..${rows} (the sample rows), got ${k}`);
  const random = rng(opts.seed ?? 1);
  const centroids = seedPlusPlus(sample, rows, dims, k, random);
  for (let it = 0; it < (opts.iterations ?? 12); it++) {
    const { scores, indices } = await topk.search(sample, rows, centroids, k, 1);
    const sums = new Float64Array(k * dims);
    const counts = new Uint32Array(k);
    for (let r = 0; r < rows; r++) {
      const j = indices[r];
      counts[j]++;
      const so = j * dims, ro = r * dims;
      for (let d = 0; d < dims; d++) sums[so + d] += sample[ro + d];
    }
    reseedEmpty(sums, counts, scores, sample, dims);
    for (let i = 0; i < sums.length; i++) centroids[i] = sums[i];
    normalizeRows(centroids, dims);
  }
  return centroids;
}

/**
 * k-means++ seeding on a subsample of at most max(2000, 8k) rows: each next seed is drawn with probability
 * proportional to its cosine distance (1 - best inner product) to the seeds so far.
 */
function seedPlusPlus(sample: Float32Array, rows: number, dims: number, k: number, random: () => number): Float32Array {
  const pool = samplePositions(rows, Math.max(k, Math.min(rows, Math.max(2000, 8 * k))), random);
  const centroids = new Float32Array(k * dims);
  const dist = new Float64Array(pool.length).fill(Infinity);
  let next = pool[Math.floor(random() * pool.length)];
  for (let j = 0; j < k; j++) {
    const c = sample.subarray(next * dims, (next + 1) * dims);
    centroids.set(c, j * dims);
    let total = 0;
    for (let i = 0; i < pool.length; i++) {
      const o = pool[i] * dims;
      let ip = 0;
      for (let d = 0; d < dims; d++) ip += sample[o + d] * c[d];
      dist[i] = Math.min(dist[i], Math.max(0, 1 - ip));
      total += dist[i];
    }
    if (total <= 0) {
      next = pool[Math.floor(random() * pool.length)]; // every pool row is a seed already: any row will do
      continue;
    }
    let t = random() * total;
    let i = 0;
    while (i < pool.length - 1 && (t -= dist[i]) > 0) i++;
    next = pool[i];
  }
  return normalizeRows(centroids, dims);
}

/** Gives each empty cluster the worst-fitting row (lowest score to its own centroid) not yet used. */
function reseedEmpty(sums: Float64Array, counts: Uint32Array, scores: Float32Array, sample: Float32Array, dims: number): void {
  const empty = [...counts.keys()].filter((j) => counts[j] === 0);
  if (empty.length === 0) return;
  const worst = [...scores.keys()].sort((a, b) => scores[a] - scores[b]).slice(0, empty.length);
  empty.forEach((j, i) => {
    for (let d = 0; d < dims; d++) sums[j * dims + d] = sample[worst[i] * dims + d];
  });
}

/** `n` distinct positions of 0..total-1, chosen uniformly (Floyd's algorithm), in ascending order. */
export function samplePositions(total: number, n: number, random: () => number): number[] {
  if (n >= total) return Array.from({ length: total }, (_, i) => i);
  const chosen = new Set<number>();
  for (let j = total - n; j < total; j++) {
    const t = Math.floor(random() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}
