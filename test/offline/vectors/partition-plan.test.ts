import { describe, expect, it } from "vitest";
import { rng } from "../../../src/random.ts";
import { normalizeRows } from "../../../offline/vectors/kmeans.ts";
import { nodeKernels } from "../../../offline/vectors/kernels.ts";
import {
  exactTopDocs, INT4_RECALL_SLACK, memorySource, partitionCount, partitionRefine, partitionRows, partitionVectors, planInt4, planProbe,
  RESIDENT_PARTITION_ROWS,
} from "../../../offline/vectors/partition.ts";
import { createTopKIp } from "../../../offline/vectors/topk-ip.ts";
import { balancedPartitions, finePartitionCount, finePartitions, int4Pays, int4Resident } from "../../../offline/build/partitions.ts";
import { DEFAULT_CACHE_BUDGET_BYTES, splitBudget } from "../../../src/search/budget.ts";

/** Clustered unit rows (tight clusters: neighbours apart in the third decimal) and held-out queries near them. */
function data(n: number, dims: number, nq: number) {
  const r = rng(5);
  const g = () => Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
  const centres = normalizeRows(Float32Array.from({ length: 40 * dims }, g), dims);
  const rows = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * 40);
    for (let d = 0; d < dims; d++) rows[i * dims + d] = centres[c * dims + d] + 0.03 * g();
  }
  const queries = new Float32Array(nq * dims);
  for (let q = 0; q < nq; q++) {
    const row = Math.floor(r() * n);
    for (let d = 0; d < dims; d++) queries[q * dims + d] = rows[row * dims + d] + 0.02 * g();
  }
  return { rows: normalizeRows(rows, dims), queries: normalizeRows(queries, dims) };
}

describe("the partition plan's int4 scan (planInt4)", () => {
  it("keeps the int8 plan's probe, refines deeper where needed, and holds recall within the slack; int8 plans without refine stay int8", async () => {
    const n = 4000, dims = 64, nq = 60;
    const { rows, queries } = data(n, dims, nq);
    const docOf = Uint32Array.from({ length: n }, (_, i) => i);
    const topk = await createTopKIp(dims, { threads: 1 });
    try {
      const p = await partitionRows(topk, rows, n, dims, 16, 1);
      const parts = p.members.map((m) => partitionVectors(rows, dims, m, docOf));
      const refine = p.members.map((m) => partitionRefine(rows, dims, m));
      const truth = await exactTopDocs(topk, queries, nq, rows, n, dims, docOf);
      const kernels = nodeKernels(64 << 20);
      const int8src = memorySource(p, dims, parts, refine, kernels);
      const int8 = await planProbe(int8src, queries, nq, truth, 0.98, true);
      const before = kernels.arena.stats().usedBytes;
      int8src.dispose();
      expect(kernels.arena.stats().usedBytes).toBeLessThan(before - n * dims * 0.9); // the int8 rows left kernel memory

      // An int8 plan that refines (forced here, whatever the plan picked): int4 is tried at its probe.
      const refined = { ...int8, refine: 64 };
      const src4 = memorySource(p, dims, parts, refine, kernels, "int4");
      expect(kernels.arena.stats().usedBytes).toBeLessThan(before / 2 + 64 * 1024); // half the rows' memory
      const plan = await planInt4(src4, refined, queries, nq, truth);
      const tried = plan.points.filter((pt) => pt.scan === "int4");
      expect(tried.length).toBeGreaterThanOrEqual(1);
      expect(tried.every((pt) => pt.probe === int8.probe && pt.refine >= 64)).toBe(true);
      if (plan.scan === "int4") {
        expect(plan.probe).toBe(int8.probe);
        expect(plan.recallAt10).toBeGreaterThanOrEqual(Math.max(0.98, int8.recallAt10 - INT4_RECALL_SLACK));
      } else {
        expect(plan.refine).toBe(64);
        expect(tried.every((pt) => pt.recallAt10 < Math.max(0.98, int8.recallAt10 - INT4_RECALL_SLACK))).toBe(true);
      }
      // At least `minRefine` candidates (a hybrid search's window) are re-scored by every int4 point measured.
      const deep = await planInt4(src4, refined, queries, nq, truth, 100);
      expect(deep.points.filter((pt) => pt.scan === "int4").every((pt) => pt.refine >= 100)).toBe(true);
      if (deep.scan === "int4") expect(deep.refine).toBeGreaterThanOrEqual(100);
      // No refining in the int8 plan: no int4 (it would rank on 4 bits alone).
      expect(await planInt4(src4, { ...int8, refine: 0 }, queries, nq, truth)).toEqual({ ...int8, refine: 0 });
    } finally {
      await topk.close();
    }
  });

  it("is tried (--scan auto) wherever the int8 rows do not fit the kernel memory at the default budget", () => {
    const kernels = splitBudget(DEFAULT_CACHE_BUDGET_BYTES).kernels;
    expect(kernels).toBe(24 * 1024 * 1024 - 0); // 32 MB less refine (4), results (2) and loaded versions (2)
    expect(int4Pays(24_186, 512)).toBe(false); // SciFact: int8 resident already
    expect(int4Pays(100_000, 512)).toBe(true); // 51.6 MB at int8, 26 MB at int4: resident
    expect(int4Pays(1_000_000, 512)).toBe(true); // 260 MB at int4: not resident, but half the bytes a query reads
    // Balanced partitions only where neither precision stays resident: every probe is a read.
    expect([24_186, 100_000, 1_000_000].map((n) => balancedPartitions(n, 512))).toEqual([false, false, true]);
    expect(int4Pays(Math.floor(kernels / 516), 512)).toBe(false);
    expect(int4Pays(Math.floor(kernels / 516) + 1, 512)).toBe(true);
    // Resident at int4 and not at int8: where the finer partitions pay.
    expect(int4Resident(100_000, 512)).toBe(true);
    expect(int4Resident(1_000_000, 512)).toBe(false);
    expect(int4Resident(24_186, 512)).toBe(false);
  });

  it("partitions finer (256 passages a partition) where the int4 scan would make the index resident, unless told otherwise", () => {
    expect(finePartitions(100_000, 512, {})).toBe(true);
    expect(partitionCount(100_000, RESIDENT_PARTITION_ROWS)).toBe(391);
    // Capped so that the loaded version (manifest and centroids) takes at most half of the loaded-versions cache.
    const room = splitBudget(DEFAULT_CACHE_BUDGET_BYTES).loadedVersions / 2;
    expect(finePartitionCount(100_000, 512)).toBe(304);
    expect(finePartitionCount(100_000, 512) * (4 * 512 + 1400)).toBeLessThanOrEqual(room);
    expect(finePartitionCount(60_000, 512)).toBe(234); // under the cap: one per 256 passages
    expect(finePartitionCount(100_000, 4096)).toBe(partitionCount(100_000)); // never fewer than the coarse count
    for (const rows of [24_186, 1_000_000]) expect(finePartitions(rows, 512, {})).toBe(false); // resident at int8 / never
    expect(finePartitions(100_000, 500, {})).toBe(false); // no int4 layout for dims not a multiple of 32
    for (const o of [{ partitions: 98 }, { probe: 8 }, { scan: "int8" as const }, { refine: "off" as const }]) {
      expect(finePartitions(100_000, 512, o)).toBe(false);
    }
    expect(finePartitions(100_000, 512, { scan: "int4", refine: "on" })).toBe(true);
  });
});
