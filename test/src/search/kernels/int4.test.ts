import { describe, expect, it } from "vitest";
import { quantizeInt8 } from "../../../../src/format";
import { createKernels, int4Score, int4Value, KernelError, quantizeQuery, toInt4, type Kernels } from "../../../../src/search/kernels";
import { int4Nibble } from "../../../../src/search/kernels/int4";
import { int8Dot } from "../../../../src/search/score";
import { rng } from "../../../../src/random.ts";
import { loadKernelsModule, unitVectors } from "./module";

/** int4 scores of one query over the rows, by the wasm kernel and by the JS reference (the packed rows at an odd offset). */
function scoresBoth(k: Kernels, query: Float32Array, rows: { packed: Uint8Array; scales: Float32Array; count: number }) {
  const a = k.arena;
  const block = { packed: a.alloc(rows.packed.length + 1) + 1, scales: a.alloc(4 * rows.count), count: rows.count };
  a.u8At(block.packed, rows.packed.length).set(rows.packed);
  a.f32At(block.scales, rows.count).set(rows.scales);
  const out = a.alloc(4 * rows.count);
  const run = (simd: boolean) => {
    const q = k.prepare(query, { simd });
    expect(q.simd).toBe(simd);
    q.int4Scores(block, out);
    q.release();
    return a.f32At(out, rows.count).slice();
  };
  return { wasm: run(true), js: run(false) };
}

const bits = (s: Float32Array) => [...new Uint32Array(s.buffer, s.byteOffset, s.length)];

describe("int4 rows (derived from int8 for a refined scan)", () => {
  const module = loadKernelsModule();

  it("packs two dims per byte in groups of 32, values in -7..7, and approximates the int8 row", () => {
    const dims = 64;
    const r = rng(3);
    const { vectors, scales } = quantizeInt8(unitVectors(5, dims, r), dims);
    const rows = toInt4(vectors, scales, 5, dims);
    expect(rows.packed.length).toBe(5 * dims / 2);
    for (let i = 0; i < 5; i++) {
      let m = 0;
      for (let d = 0; d < dims; d++) m = Math.max(m, Math.abs(vectors[i * dims + d]));
      for (let d = 0; d < dims; d++) {
        const v = int4Value(rows.packed, dims, i, d);
        expect(v).toBe(int4Nibble(vectors[i * dims + d], Math.fround(7 / m))); // the rounding the layout promises
        expect(v).toBe(Math.round((7 * vectors[i * dims + d]) / m) + 0); // which is rounding to the nearest here
        expect(Math.abs(v)).toBeLessThanOrEqual(7);
        // v4 * scale4 is within half a step (scale4 / 2) of v8 * scale8
        expect(Math.abs(v * rows.scales[i] - vectors[i * dims + d] * scales[i])).toBeLessThanOrEqual(rows.scales[i] / 2 + 1e-7);
      }
    }
  });

  it("converts int8 rows in kernel memory to the same int4 bits on wasm and in JS: every row maximum, zero and extreme rows", () => {
    const dims = 64;
    const r = rng(11);
    // row i has maximum |v| = i + 1 (1..128), then a zero row, a row of -128, random rows
    const rows: number[][] = [];
    for (let m = 1; m <= 128; m++) rows.push(Array.from({ length: dims }, (_, d) => (d === 5 ? (m === 128 ? -128 : m) : Math.round((r() * 2 - 1) * Math.min(m, 127)))));
    rows.push(new Array(dims).fill(0), new Array(dims).fill(-128));
    for (let i = 0; i < 40; i++) rows.push(Array.from({ length: dims }, () => Math.floor(r() * 255) - 127));
    const count = rows.length;
    const vectors = Int8Array.from(rows.flat());
    const scales = Float32Array.from({ length: count }, () => Math.fround(r() * 0.01 + 1e-4));
    const want = toInt4(vectors, scales, count, dims);
    for (const simd of [true, false]) {
      const k = createKernels(module, { maxBytes: 4 << 20 });
      const a = k.arena;
      const src = { vectors: a.alloc(vectors.length + 1) + 1, scales: a.alloc(4 * count), count };
      a.int8At(src.vectors, vectors.length).set(vectors);
      a.f32At(src.scales, count).set(scales);
      const out = { packed: a.alloc(count * dims / 2 + 1) + 1, scales: a.alloc(4 * count), count };
      k.toInt4(src, dims, out, { simd });
      expect([...a.u8At(out.packed, count * dims / 2)]).toEqual([...want.packed]);
      expect(bits(a.f32At(out.scales, count).slice())).toEqual(bits(want.scales));
    }
    expect(() => createKernels(module, { maxBytes: 1 << 20 }).toInt4({ vectors: 16, scales: 16, count: 2 }, 48, { packed: 16, scales: 16, count: 2 })).toThrow(KernelError);
  });

  it("keeps a zero row zero and refuses dims that are not a multiple of 32", () => {
    const rows = toInt4(new Int8Array(32), new Float32Array([0]), 1, 32);
    expect([...rows.packed]).toEqual(new Array(16).fill(0x88)); // every value 0, stored as 0 + 8
    expect(int4Value(rows.packed, 32, 0, 31)).toBe(0);
    expect(rows.scales[0]).toBe(0);
    expect(() => toInt4(new Int8Array(48), new Float32Array(1), 1, 48)).toThrow(KernelError);
    const k = createKernels(module, { maxBytes: 1 << 20 });
    const q = k.prepare(new Float32Array(48).fill(0.1));
    expect(() => q.int4Scores({ packed: k.arena.alloc(24), scales: k.arena.alloc(4), count: 1 }, k.arena.alloc(4))).toThrow(/multiple of 32/);
  });

  it.each([32, 64, 512, 1024])("wasm and the JS reference give the same bits at %i dims (every count mod 4)", (dims) => {
    const r = rng(dims + 1);
    for (const count of [1, 2, 3, 4, 5, 7, 64]) {
      const { vectors, scales } = quantizeInt8(Float32Array.from({ length: count * dims }, () => (r() - 0.5) * 3), dims);
      const rows = toInt4(vectors, scales, count, dims);
      const query = Float32Array.from({ length: dims }, () => r() * 2 - 1);
      const { wasm, js } = scoresBoth(createKernels(module, { maxBytes: 4 << 20 }), query, rows);
      expect(bits(wasm)).toEqual(bits(js));
      const q = quantizeQuery(query);
      for (let i = 0; i < count; i++) expect(js[i]).toBe(int4Score(q, rows.packed, rows.scales, i));
    }
  });

  it("does not overflow on extreme rows (every value -7 or 7) against a query at its largest", () => {
    const dims = 1024;
    const vectors = Int8Array.from({ length: 2 * dims }, (_, i) => (i < dims ? 127 : -127));
    const rows = toInt4(vectors, new Float32Array([1, 1]), 2, dims);
    const query = new Float32Array(dims).fill(1);
    const { wasm, js } = scoresBoth(createKernels(module, { maxBytes: 4 << 20 }), query, rows);
    expect(bits(wasm)).toEqual(bits(js));
    // (127/7 per unit of int4) * 7 per dim * dims: the int8 sum, within the int16 query's rounding
    expect(js[0]).toBeCloseTo(127 * dims, -1);
    expect(js[1]).toBeCloseTo(-127 * dims, -1);
  });

  it("scores unit rows within about 0.03 of the float inner product (the scan ranks; refine rows decide)", () => {
    const dims = 512;
    const r = rng(9);
    const floats = unitVectors(200, dims, r);
    const { vectors, scales } = quantizeInt8(floats, dims);
    const rows = toInt4(vectors, scales, 200, dims);
    const query = unitVectors(1, dims, r);
    const { js } = scoresBoth(createKernels(module, { maxBytes: 4 << 20 }), query, rows);
    let worst = 0;
    for (let i = 0; i < 200; i++) worst = Math.max(worst, Math.abs(js[i] - int8Dot(query, vectors, scales, i)));
    expect(worst).toBeLessThan(0.03);
    expect(worst).toBeGreaterThan(0); // it is an approximation, not the int8 score
  });
});
