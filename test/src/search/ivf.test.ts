// src/search/ivf.ts: the dense search over a partitioned index, against brute force over the same vectors.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeFloatRows, encodeFloatRows, float16Table } from "../../../src/format/index.ts";
import { binary16Value, ivfOptions, isPartitioned, rankPartitions, scanRows, searchIvf, toKernelMemory, toKernelRows, type IvfPartition, type IvfSource, type ScanPrecision } from "../../../src/search/ivf.ts";
import { compileKernels, createKernels } from "../../../src/search/kernels/index.ts";
import { int8Score, quantizeQuery } from "../../../src/search/kernels/index.ts";
import { quantizeInt8 } from "../../../src/format/quantize.ts";
import { rng } from "../../../src/random.ts";
import { docFilter } from "../../../src/search/filter.ts";

const DIMS = 32;
const unit = (v: Float32Array) => {
  for (let o = 0; o < v.length; o += DIMS) {
    let n = 0;
    for (let d = 0; d < DIMS; d++) n += v[o + d] ** 2;
    for (let d = 0; d < DIMS; d++) v[o + d] /= Math.sqrt(n);
  }
  return v;
};

/** 4 partitions of 50 passages; documents own 2 passages each, in different partitions. */
function fixture(seed = 1) {
  const r = rng(seed);
  const P = 4, per = 50;
  const centroids = unit(Float32Array.from({ length: P * DIMS }, () => r() - 0.5));
  const floats: Float32Array[] = [];
  const ordinals: Uint32Array[] = [];
  for (let p = 0; p < P; p++) {
    const rows = new Float32Array(per * DIMS);
    for (let i = 0; i < per; i++) for (let d = 0; d < DIMS; d++) rows[i * DIMS + d] = centroids[p * DIMS + d] + 0.3 * (r() - 0.5);
    floats.push(unit(rows));
    // passage i of partition p belongs to doc (p * per + i) % 100: each doc has one passage in two partitions
    ordinals.push(Uint32Array.from({ length: per }, (_, i) => ((p * per + i) % 100)).sort());
  }
  const parts: IvfPartition[] = floats.map((f, p) => ({ count: per, ordinals: ordinals[p], ...quantizeInt8(f, DIMS) }));
  const refine = floats.map((f) => decodeFloatRows("refine", encodeFloatRows("refine", DIMS, f)));
  return { P, centroids, parts, refine, floats, ordinals };
}

function source(f: ReturnType<typeof fixture>, opts: { refine?: boolean; kernels?: ReturnType<typeof createKernels>; scan?: ScanPrecision } = {}): IvfSource {
  const decoded = f.parts.map((p) => ({ count: p.count, dims: DIMS, ordinals: p.ordinals, vectors: p.vectors!, scales: p.scales! }));
  const parts = decoded.map((p) => (opts.kernels ? toKernelRows(opts.kernels, p, opts.scan)! : scanRows(p, opts.scan)));
  return {
    dims: DIMS, centroids: f.centroids, partitions: f.P, kernels: opts.kernels,
    load: async (ids) => ids.map((i) => parts[i]),
    refine: opts.refine ? async (ids) => ids.map((i) => f.refine[i]) : undefined,
  };
}

/** Brute force over the given partitions: doc = best passage by int8 (the kernels' int16 query; float when `exact`). */
function brute(f: ReturnType<typeof fixture>, q: Float32Array, probed: number[], exact: boolean) {
  const best = new Map<number, number>();
  const q16 = quantizeQuery(q);
  for (const p of probed) {
    for (let i = 0; i < 50; i++) {
      let s = 0;
      if (exact) for (let d = 0; d < DIMS; d++) s += q[d] * f.floats[p][i * DIMS + d];
      else s = int8Score(q16, f.parts[p].vectors!, f.parts[p].scales!, i);
      const o = f.ordinals[p][i];
      if (!best.has(o) || s > best.get(o)!) best.set(o, s);
    }
  }
  return [...best].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
}

describe("IVF search", () => {
  const f = fixture();
  const q = unit(Float32Array.from({ length: DIMS }, (_, d) => Math.sin(d + 1)));

  it("ranks partitions by centroid inner product", () => {
    const ranked = rankPartitions(q, f.centroids, f.P, f.P);
    const ips = ranked.map((p) => f.centroids.subarray(p * DIMS, (p + 1) * DIMS).reduce((s, x, d) => s + x * q[d], 0));
    expect([...ips].sort((a, b) => b - a)).toEqual(ips);
    expect(rankPartitions(q, f.centroids, f.P, 2)).toEqual(ranked.slice(0, 2));
  });

  it("ranks any number of partitions as one sum per centroid does (ties to the lower partition)", () => {
    const r = rng(12);
    for (const P of [1, 3, 4, 5, 8, 11]) {
      const centroids = unit(Float32Array.from({ length: P * DIMS }, () => r() - 0.5));
      if (P >= 5) centroids.copyWithin(4 * DIMS, 1 * DIMS, 2 * DIMS); // partitions 1 and 4 tie
      const sums = Array.from({ length: P }, (_, p) => {
        let s = 0;
        for (let d = 0; d < DIMS; d++) s += q[d] * centroids[p * DIMS + d];
        return s;
      });
      const want = [...sums.keys()].sort((a, b) => sums[b] - sums[a] || a - b);
      for (const probe of [1, 2, P]) expect(rankPartitions(q, centroids, P, probe)).toEqual(want.slice(0, probe));
    }
  });

  it("equals brute force over the probed partitions (int8), for every probe", async () => {
    for (const probe of [1, 2, 3, 4]) {
      const r = await searchIvf(q, source(f), 10, { probe, refine: 0 });
      const want = brute(f, q, r.probed, false).slice(0, 10);
      expect(r.hits.map((h) => h.ordinal)).toEqual(want.map(([o]) => o));
      r.hits.forEach((h, i) => expect(h.score).toBe(want[i][1]));
    }
  });

  it("probes only the leading partitions the source says fit at once (the worker's kernel memory), in the query's order", async () => {
    const asked: number[][] = [];
    const fits = (order: number[]) => (asked.push(order), 2);
    const r = await searchIvf(q, { ...source(f), fits }, 10, { probe: 4, refine: 0 });
    expect(asked).toEqual([rankPartitions(q, f.centroids, f.P, 4)]);
    expect(r.probed).toEqual(rankPartitions(q, f.centroids, f.P, 2));
    const want = brute(f, q, r.probed, false).slice(0, 10);
    expect(r.hits.map((h) => h.ordinal)).toEqual(want.map(([o]) => o));
    expect((await searchIvf(q, { ...source(f), fits: () => 0 }, 10, { probe: 4, refine: 0 })).probed).toHaveLength(1); // always one
  });

  it("re-scores the best candidates from the refine rows (float to binary16 precision)", async () => {
    const r = await searchIvf(q, source(f, { refine: true }), 5, { probe: 4, refine: 200 });
    const want = brute(f, q, [0, 1, 2, 3], true).slice(0, 5);
    expect(r.hits.map((h) => h.ordinal)).toEqual(want.map(([o]) => o));
    r.hits.forEach((h, i) => expect(h.score).toBeCloseTo(want[i][1], 3));
  });

  it("scans the `always` partitions (an updated version's delta) beside the probed ones, with a filter too; refines only the probed", async () => {
    // The delta: partition 3's rows as documents 100.. (their own ordinals), scanned whatever the probe.
    const delta: IvfPartition = { ...f.parts[3], ordinals: Uint32Array.from(f.ordinals[3], (o) => 100 + o) };
    const src = { ...source(f, { refine: true }), always: async () => [delta] };
    for (const probe of [1, 2]) {
      const r = await searchIvf(q, src, 10, { probe, refine: 0 });
      const base = brute(f, q, r.probed, false);
      const fromDelta = brute(f, q, [3], false).map(([o, s]) => [100 + o, s] as [number, number]);
      const want = [...base, ...fromDelta].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 10);
      expect(r.hits.map((h) => h.ordinal)).toEqual(want.map(([o]) => o));
      expect(r.scores([fromDelta[5][0]]).get(fromDelta[5][0])).toBeCloseTo(fromDelta[5][1], 5);
    }
    // A filter that only delta documents match: found without widening into the base.
    const matching = [150, 167, 190];
    expect(matching.every((o) => f.ordinals[3].includes(o - 100))).toBe(true);
    const only = { documents: 200, bits: new Uint32Array(7), count: 3, has: (o: number) => matching.includes(o) };
    const loaded: number[][] = [];
    const r = await searchIvf(q, { ...src, load: (ids) => (loaded.push(ids), src.load(ids)) }, 3, { probe: 1, refine: 0 }, only);
    expect(r.hits.map((h) => h.ordinal).sort()).toEqual(matching);
    expect(loaded).toHaveLength(1); // the delta held the 3 matches: no partition beyond the probe was scanned
    // Refine reads the probed partitions' refine rows only (the delta has none): its rows keep their int8 scores.
    const asked: number[][] = [];
    const refined = await searchIvf(q, { ...src, refine: (ids) => (asked.push(ids), src.refine!(ids)) }, 5, { probe: 1, refine: 400 });
    expect(asked.flat().every((id) => refined.probed.includes(id))).toBe(true);
    const deltaBest = brute(f, q, [3], false)[0];
    expect(refined.scores([100 + deltaBest[0]]).get(100 + deltaBest[0])).toBe(deltaBest[1]);
  });

  it("reads every binary16 pattern of a refine row as float16Table does (signed zeros, subnormals, infinities, NaN)", () => {
    const table = float16Table();
    for (let h = 0; h < 65536; h++) {
      const v = binary16Value(h, table);
      if (!(Object.is(v, table[h]) || (Number.isNaN(v) && Number.isNaN(table[h])))) expect.fail(`bits ${h.toString(16)}: ${v} against ${table[h]}`);
    }
    expect(Object.is(binary16Value(0x8000, table), -0)).toBe(true);
  });

  it("a refine row that is not a number ranks its row last, never first", async () => {
    const broken = f.refine.map((r) => ({ ...r, rows: r.rows.slice() }));
    const best = brute(f, q, [0, 1, 2, 3], false)[0][0];
    const p = f.ordinals.findIndex((o) => o.includes(best));
    broken[p].rows.fill(0x7e00, f.ordinals[p].indexOf(best) * DIMS, (f.ordinals[p].indexOf(best) + 1) * DIMS); // binary16 NaN
    const r = await searchIvf(q, { ...source(f), refine: async (ids) => ids.map((i) => broken[i]) }, 5, { probe: 4, refine: 200 });
    expect(r.hits.every((h) => Number.isFinite(h.score))).toBe(true);
    expect(r.hits).toHaveLength(5);
  });

  it("a filter of deleted documents only skips their rows and never widens the scan (a user filter does)", async () => {
    const deleted = new Set([brute(f, q, [0, 1, 2, 3], false)[0][0]]); // the best document
    const bits = new Uint32Array(4);
    for (let o = 0; o < 100; o++) if (!deleted.has(o)) bits[o >>> 5] |= 1 << (o & 31);
    const live = docFilter(bits, 100, { deletionsOnly: true });
    const loads: number[][] = [];
    const src = { ...source(f), load: (ids: number[]) => (loads.push(ids), source(f).load(ids)) };
    const r = await searchIvf(q, src, 100, { probe: 1, refine: 0 }, live);
    expect(loads).toEqual([r.probed]); // 100 wanted, fewer in one partition: still one partition
    expect(r.hits.some((h) => deleted.has(h.ordinal))).toBe(false);
    loads.length = 0;
    await searchIvf(q, src, 100, { probe: 1, refine: 0 }, docFilter(bits, 100));
    expect(loads.flat().length).toBeGreaterThan(1); // the same bits as a user filter widen
  });

  it("ranks by the refined scores whichever int8 rows refinement moves, as brute force does", async () => {
    const table = float16Table();
    /** Every row's int8 score, the `refine` best of them (score desc, row asc) replaced by their binary16 rows' score. */
    const refinedBrute = (query: Float32Array, refine: number, rowsOf = f.refine) => {
      const q16 = quantizeQuery(query);
      const rows = f.parts.flatMap((p, pi) => Array.from({ length: 50 }, (_, i) => ({ pi, i, s: int8Score(q16, p.vectors!, p.scales!, i) })));
      const order = rows.map((r, g) => ({ ...r, g })).sort((a, b) => b.s - a.s || a.g - b.g);
      for (const r of order.slice(0, refine)) {
        let acc = 0;
        for (let d = 0; d < DIMS; d++) acc += query[d] * table[rowsOf[r.pi].rows[r.i * DIMS + d]];
        rows[r.g].s = Math.fround(acc); // the scan keeps scores as float32
      }
      const best = new Map<number, number>();
      rows.map((r, g) => ({ ...r, g })).sort((a, b) => b.s - a.s || a.g - b.g).forEach((r) => {
        const o = f.ordinals[r.pi][r.i];
        if (!best.has(o)) best.set(o, r.s);
      });
      return [...best].map(([ordinal, score]) => ({ ordinal, score }));
    };
    const r = rng(5);
    for (let t = 0; t < 20; t++) {
      const query = unit(Float32Array.from({ length: DIMS }, () => r() - 0.5));
      for (const [k, refine] of [[1, 8], [2, 16], [3, 5], [10, 200]]) {
        const got = await searchIvf(query, source(f, { refine: true }), k, { probe: 4, refine });
        // every partition probed (scores continuous: no ties for the scan order to break)
        const want = refinedBrute(query, refine);
        expect(got.hits.map((h) => h.ordinal)).toEqual(want.slice(0, k).map((h) => h.ordinal));
        got.hits.forEach((h, i) => expect(h.score).toBe(want[i].score));
      }
    }
    // Refine rows far below the int8 scores (negated vectors): every refined row falls below rows the first
    // selection of 8 * k left out, which must then rank above them.
    const negated = f.floats.map((x) => decodeFloatRows("refine", encodeFloatRows("refine", DIMS, x.map((v) => -v))));
    const src = { ...source(f), refine: async (ids: number[]) => ids.map((i) => negated[i]) };
    for (let t = 0; t < 5; t++) {
      const query = unit(Float32Array.from({ length: DIMS }, () => r() - 0.5));
      for (const [k, refine] of [[1, 8], [2, 16], [3, 30]]) {
        const got = await searchIvf(query, src, k, { probe: 4, refine });
        const want = refinedBrute(query, refine, negated);
        expect(got.hits.map((h) => h.ordinal)).toEqual(want.slice(0, k).map((h) => h.ordinal));
        got.hits.forEach((h, i) => expect(h.score).toBe(want[i].score));
      }
    }
  });

  it("scores other documents exactly when scanned, else as the lowest scanned score", async () => {
    const r = await searchIvf(q, source(f), 3, { probe: 1, refine: 0 });
    const scanned = brute(f, q, r.probed, false);
    const floor = Math.min(...scanned.map(([, s]) => s));
    const inScan = scanned[scanned.length - 1][0];
    const notScanned = [...Array(100).keys()].find((o) => !scanned.some(([x]) => x === o))!;
    const s = r.scores([inScan, notScanned]);
    expect(s.get(inScan)).toBe(scanned[scanned.length - 1][1]);
    expect(s.get(notScanned)).toBe(floor);
  });

  it("gives the same ranking on the wasm kernels, and when their memory has no room left", async () => {
    const wasm = compileKernels(readFileSync(new URL("../../../src/search/kernels/kernels.wasm", import.meta.url)));
    const js = await searchIvf(q, source(f), 10, { probe: 3, refine: 0 });
    const kernels = createKernels(wasm, { maxBytes: 1 << 20 });
    const k = await searchIvf(q, source(f, { kernels }), 10, { probe: 3, refine: 0 });
    expect(k.hits).toEqual(js.hits); // the same scores to the bit

    // Fill the kernel memory: the scan falls back to JS over the same memory and still agrees.
    const full = createKernels(wasm, { maxBytes: 64 * 1024 });
    const src = source(f, { kernels: full });
    while (full.arena.tryAlloc(4096) >= 0);
    const fallback = await searchIvf(q, src, 10, { probe: 3, refine: 0 });
    expect(fallback.hits).toEqual(js.hits);
  });

  it("scans int4 rows (half the kernel memory) with the same bits on the wasm kernels, in JS, and when memory is full", async () => {
    const wasm = compileKernels(readFileSync(new URL("../../../src/search/kernels/kernels.wasm", import.meta.url)));
    const js = await searchIvf(q, source(f, { scan: "int4" }), 10, { probe: 3, refine: 0 });
    const kernels = createKernels(wasm, { maxBytes: 1 << 20 });
    const k = await searchIvf(q, source(f, { kernels, scan: "int4" }), 10, { probe: 3, refine: 0 });
    expect(k.hits).toEqual(js.hits);
    const used4 = kernels.arena.stats().usedBytes;
    const k8 = createKernels(wasm, { maxBytes: 1 << 20 });
    source(f, { kernels: k8 });
    expect(used4).toBeLessThan(0.6 * k8.arena.stats().usedBytes);
    const full = createKernels(wasm, { maxBytes: 64 * 1024 });
    const src = source(f, { kernels: full, scan: "int4" });
    while (full.arena.tryAlloc(4096) >= 0);
    expect((await searchIvf(q, src, 10, { probe: 3, refine: 0 })).hits).toEqual(js.hits);
    // int4 differs from int8 before refining; refined from the same rows, the best documents agree with int8's refined ones
    const int8 = await searchIvf(q, source(f, { refine: true }), 10, { probe: 3, refine: 64 });
    const int4 = await searchIvf(q, source(f, { refine: true, scan: "int4" }), 10, { probe: 3, refine: 64 });
    expect(int4.hits.slice(0, 5).map((h) => h.ordinal)).toEqual(int8.hits.slice(0, 5).map((h) => h.ordinal));
    expect(int4.hits[0].score).toBe(int8.hits[0].score); // refined: the same binary16 dot product
  });

  it("makes int4 rows in kernel memory on the kernels, or in JS when there is no room for the int8 copy: the same bits", () => {
    const wasm = compileKernels(readFileSync(new URL("../../../src/search/kernels/kernels.wasm", import.meta.url)));
    const p = f.parts[0];
    const decoded = { count: p.count, dims: DIMS, ordinals: p.ordinals, vectors: p.vectors!, scales: p.scales! };
    const roomy = createKernels(wasm, { maxBytes: 1 << 20 });
    const a = toKernelRows(roomy, decoded, "int4")!;
    // Room for the int4 rows (800 bytes) and scales (208), not for the temporary int8 copy (1,600).
    const tight = createKernels(wasm, { maxBytes: 64 * 1024 });
    expect(tight.arena.tryAlloc(64 * 1024 - 32 - 1100)).toBeGreaterThan(0);
    const b = toKernelRows(tight, decoded, "int4")!;
    expect(b.block4).toBeDefined();
    const bytes = (k: typeof roomy, part: IvfPartition) => [...k.arena.u8At(part.block4!.packed, (p.count * DIMS) / 2)];
    expect(bytes(tight, b)).toEqual(bytes(roomy, a));
    expect([...tight.arena.f32At(b.block4!.scales, p.count)]).toEqual([...roomy.arena.f32At(a.block4!.scales, p.count)]);
    expect([...roomy.arena.u8At(a.block4!.packed, (p.count * DIMS) / 2)]).toEqual([...scanRows(decoded, "int4").packed!]);
    expect(toKernelRows(tight, decoded, "int4")).toBeNull(); // and none for a second copy
    // Dims the int4 layout does not take: refused before anything is allocated.
    const used = roomy.arena.stats().usedBytes;
    const d48 = { count: 2, dims: 48, ordinals: new Uint32Array(2), vectors: new Int8Array(96), scales: new Float32Array(2) };
    expect(() => toKernelRows(roomy, d48, "int4")).toThrow(/multiple of 32/);
    expect(roomy.arena.stats().usedBytes).toBe(used);
  });

  it("takes probe from the request, else the index, clamped to its partitions; says which manifests are partitioned", () => {
    const m = { partitions: [1, 2, 3, 4], search: { probe: 2, refine: 64 } };
    expect(ivfOptions(m).scan).toBe("int8");
    expect(ivfOptions({ ...m, search: { ...m.search, scan: "int4" as const } }).scan).toBe("int4");
    expect(ivfOptions(m)).toEqual({ probe: 2, refine: 64, scan: "int8" });
    expect(ivfOptions(m, { probe: 99 })).toEqual({ probe: 4, refine: 64, scan: "int8" });
    expect(ivfOptions({ partitions: [1, 2], search: {} }, { probe: 0 })).toEqual({ probe: 1, refine: 0, scan: "int8" });
    expect(isPartitioned({ version: { major: 2 }, partitions: [1, 2], centroids: {} })).toBe(true);
    expect(isPartitioned({ version: { major: 2 }, partitions: [1], centroids: {} })).toBe(false);
    expect(isPartitioned({ version: { major: 1 }, partitions: [1, 2], centroids: {} })).toBe(false);
  });
});
