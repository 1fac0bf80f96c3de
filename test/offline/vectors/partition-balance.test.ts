import { describe, expect, it } from "vitest";
import { rng } from "../../../src/random.ts";
import { normalizeRows } from "../../../offline/vectors/kmeans.ts";
import { BALANCE, balancePartitions, partitionRows, type PartitionGroup } from "../../../offline/vectors/partition.ts";
import { createTopKIp } from "../../../offline/vectors/topk-ip.ts";

const dims = 32;

/** `sizes[c]` unit rows around each of as many random centres (tight: cosine about 0.97 to their centre). */
function clusters(sizes: number[], seed = 3) {
  const r = rng(seed);
  const g = () => Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
  const centres = normalizeRows(Float32Array.from({ length: sizes.length * dims }, g), dims);
  const n = sizes.reduce((a, b) => a + b, 0);
  const rows = new Float32Array(n * dims);
  const cluster = new Uint32Array(n);
  let at = 0;
  sizes.forEach((size, c) => {
    for (let i = 0; i < size; i++, at++) {
      cluster[at] = c;
      for (let d = 0; d < dims; d++) rows[at * dims + d] = centres[c * dims + d] + 0.05 * g();
    }
  });
  return { rows: normalizeRows(rows, dims), cluster, n };
}

/** A group of the given rows whose centroid is their first row (a stand-in for a k-means centroid). */
const group = (rows: Float32Array, members: number[]): PartitionGroup => ({ rows: Uint32Array.from(members), centroid: rows.slice(members[0] * dims, (members[0] + 1) * dims) });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("balanced partitions (balancePartitions)", () => {
  it("splits a partition of two clusters, merges a near-empty one into its cluster's, and keeps every row once", async () => {
    // Three clusters of 100 rows; k-means left clusters 0 and 1 in one partition of 200, and cluster 2 split 95 / 5.
    const { rows, cluster } = clusters([100, 100, 100]);
    const groups = [group(rows, range(0, 200)), group(rows, range(200, 295)), group(rows, range(295, 300))];
    const topk = await createTopKIp(dims, { threads: 1 });
    try {
      const out = await balancePartitions(topk, rows, dims, groups, 100, 1);
      expect(out).toHaveLength(3);
      // Each partition is one whole cluster: the merged pair split apart, the 5 stray rows back with their cluster.
      const clustersOf = out.map((g) => new Set([...g.rows].map((r) => cluster[r])));
      expect(clustersOf.every((s) => s.size === 1)).toBe(true);
      expect(out.map((g) => g.rows.length).sort()).toEqual([100, 100, 100]);
      // Every row once, ascending within a partition; unit centroids.
      expect([...out.flatMap((g) => [...g.rows])].sort((a, b) => a - b)).toEqual(range(0, 300));
      for (const g of out) {
        expect([...g.rows]).toEqual([...g.rows].sort((a, b) => a - b));
        expect(Math.hypot(...g.centroid)).toBeCloseTo(1, 5);
      }
    } finally {
      await topk.close();
    }
  });

  it("takes fewer rows than partitions asked", async () => {
    const { rows, n } = clusters([3, 2]);
    const topk = await createTopKIp(dims, { threads: 1 });
    try {
      const p = await partitionRows(topk, rows, n, dims, 20, 1, true);
      expect(p.partitions).toBeLessThanOrEqual(n);
      expect(p.members.flatMap((m) => [...m]).sort((a, b) => a - b)).toEqual(range(0, n));
    } finally {
      await topk.close();
    }
  });

  it("leaves partitions within the bounds as they are, and all-small ones too", async () => {
    const { rows } = clusters([60, 60]);
    const groups = [group(rows, range(0, 60)), group(rows, range(60, 120))];
    const topk = await createTopKIp(dims, { threads: 1 });
    try {
      expect(await balancePartitions(topk, rows, dims, groups, 60 / BALANCE.max, 1)).toEqual(groups); // at the upper bound
      expect(await balancePartitions(topk, rows, dims, groups, 60 / BALANCE.min, 1)).toEqual(groups); // at the lower bound
      expect(await balancePartitions(topk, rows, dims, groups, 1000, 1)).toEqual(groups); // all small: nowhere to go
    } finally {
      await topk.close();
    }
  });

  it("bounds the partitions of uneven clusters that k-means leaves uneven (partitionRows)", async () => {
    // 30 clusters of 10 to 300 rows, 12 partitions asked (268 rows each): k-means alone leaves 112 to 532.
    const sizes = Array.from({ length: 30 }, (_, c) => 10 + ((c * 97) % 291));
    const { rows, n } = clusters(sizes, 7);
    const topk = await createTopKIp(dims, { threads: 1 });
    try {
      const p = await partitionRows(topk, rows, n, dims, 12, 1, true);
      const plain = await partitionRows(topk, rows, n, dims, 12, 1); // k-means' own partitions
      const target = n / 12;
      const counts = p.members.map((m) => m.length);
      const plainCounts = plain.members.map((m) => m.length);
      expect(plain.partitions).toBe(12);
      expect(Math.max(...plainCounts)).toBeGreaterThan(BALANCE.max * target); // what there is to balance
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(BALANCE.min * target);
      expect(Math.max(...counts)).toBeLessThan(Math.max(...plainCounts));
      // The rows a probe reads on average (a partition weighted by its rows) fall.
      const readPerProbe = (c: number[]) => c.reduce((a, x) => a + x * x, 0) / n;
      expect(readPerProbe(counts)).toBeLessThan(readPerProbe(plainCounts));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
      p.members.forEach((m, j) => m.forEach((r) => expect(p.assign[r]).toBe(j)));
      expect(p.centroids.length).toBe(p.partitions * dims);
      // Deterministic for a seed.
      expect((await partitionRows(topk, rows, n, dims, 12, 1, true)).members).toEqual(p.members);
    } finally {
      await topk.close();
    }
  });
});
