import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeRows, samplePositions, sphericalKMeans } from "../../../offline/vectors/kmeans.ts";
import { rng } from "../../../src/random.ts";
import { createTopKIp, type TopKIp } from "../../../offline/vectors/topk-ip.ts";

const DIMS = 32;
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}
/** `n` unit rows around `clusters` random unit centers (spread sigma per dimension). */
function clustered(n: number, clusters: number, sigma: number, seed: number) {
  const random = rng(seed);
  const centers = normalizeRows(Float32Array.from({ length: clusters * DIMS }, () => gaussian(random)), DIMS);
  const rows = new Float32Array(n * DIMS);
  const label = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    label[i] = i % clusters;
    for (let d = 0; d < DIMS; d++) rows[i * DIMS + d] = centers[label[i] * DIMS + d] + sigma * gaussian(random);
  }
  return { rows: normalizeRows(rows, DIMS), label, centers };
}

describe("exact top-k by inner product (onnxruntime GEMM)", () => {
  let topk: TopKIp;
  beforeAll(async () => (topk = await createTopKIp(DIMS, { chunkRows: 70 })));
  afterAll(() => topk.close());

  it("equals brute force, across chunks of the searched set", async () => {
    const { rows } = clustered(300, 7, 0.3, 2);
    const q = clustered(9, 3, 0.5, 3).rows;
    const r = await topk.search(q, 9, rows, 300, 12);
    for (let i = 0; i < 9; i++) {
      const all = Array.from({ length: 300 }, (_, j) => {
        let s = 0;
        for (let d = 0; d < DIMS; d++) s += q[i * DIMS + d] * rows[j * DIMS + d];
        return { j, s };
      }).sort((a, b) => b.s - a.s);
      expect([...r.indices.subarray(i * 12, i * 12 + 12)]).toEqual(all.slice(0, 12).map((x) => x.j));
      for (let t = 0; t < 12; t++) expect(r.scores[i * 12 + t]).toBeCloseTo(all[t].s, 5);
    }
  });

  it("rejects k outside 1..rows", async () => {
    await expect(topk.search(new Float32Array(DIMS), 1, new Float32Array(DIMS * 2), 2, 3)).rejects.toThrow(/k must be in 1..2/);
  });
});

describe("spherical k-means", () => {
  let topk: TopKIp;
  beforeAll(async () => (topk = await createTopKIp(DIMS)));
  afterAll(() => topk.close());

  it("recovers well separated clusters: every cluster maps to one centroid, centroids are unit", async () => {
    const { rows, label } = clustered(2000, 8, 0.05, 5);
    const c = await sphericalKMeans(topk, rows, 2000, DIMS, 8, { seed: 3 });
    for (let j = 0; j < 8; j++) {
      let n = 0;
      for (let d = 0; d < DIMS; d++) n += c[j * DIMS + d] ** 2;
      expect(Math.sqrt(n)).toBeCloseTo(1, 5);
    }
    const { indices } = await topk.search(rows, 2000, c, 8, 1);
    const owner = new Map<number, Set<number>>();
    for (let i = 0; i < 2000; i++) (owner.get(label[i]) ?? owner.set(label[i], new Set()).get(label[i])!).add(indices[i]);
    expect([...owner.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...owner.values()].map((s) => [...s][0])).size).toBe(8);
  });

  it("is deterministic for a seed, and leaves no centroid empty when k exceeds the clusters", async () => {
    const { rows } = clustered(600, 3, 0.02, 9);
    const a = await sphericalKMeans(topk, rows, 600, DIMS, 10, { seed: 4 });
    const b = await sphericalKMeans(topk, rows, 600, DIMS, 10, { seed: 4 });
    expect(a).toEqual(b);
    const { indices } = await topk.search(rows, 600, a, 10, 1);
    expect(new Set(indices).size).toBe(10);
  });

  it("samplePositions: distinct, sorted, in range", () => {
    const p = samplePositions(1000, 100, rng(1));
    expect(new Set(p).size).toBe(100);
    expect(p.every((x, i) => x >= 0 && x < 1000 && (i === 0 || p[i - 1] < x))).toBe(true);
    expect(samplePositions(5, 9, rng(1))).toEqual([0, 1, 2, 3, 4]);
  });
});
