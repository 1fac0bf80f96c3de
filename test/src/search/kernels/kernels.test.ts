import { describe, expect, it } from "vitest";
import { codeBytes, quantizeInt8, signCodes } from "../../../../src/format";
import { createKernels, hasWasmSimd, KernelError, type Kernels } from "../../../../src/search/kernels";
import { int8Score, quantizeQuery, quantizeQuery16 } from "../../../../src/search/kernels/quantize-query";
import { int8Dot } from "../../../../src/search/score";
import { rng } from "../../../../src/random.ts";
import { loadKernelsModule, unitVectors } from "./module";

interface Placed {
  block: { vectors: number; scales: number; codes: number; count: number };
  out: number;
}

/** Copies int8 vectors, scales and sign codes into the arena (vectors at an odd offset: kernels read unaligned). */
function place(k: Kernels, vectors: Int8Array, scales: Float32Array, codes: Uint8Array): Placed {
  const a = k.arena;
  const count = scales.length;
  const block = { vectors: a.alloc(vectors.length + 1) + 1, scales: a.alloc(4 * count), codes: a.alloc(codes.length), count };
  a.int8At(block.vectors, vectors.length).set(vectors);
  a.f32At(block.scales, count).set(scales);
  a.u8At(block.codes, codes.length).set(codes);
  return { block, out: a.alloc(4 * count) };
}

/** int8 scores of the wasm kernels and of the JS reference for one query over a placed block. */
function int8Both(k: Kernels, query: Float32Array, { block, out }: Placed) {
  const scores = (simd: boolean) => {
    const q = k.prepare(query, { simd });
    expect(q.simd).toBe(simd);
    q.int8Scores(block, out);
    q.release();
    return k.arena.f32At(out, block.count).slice();
  };
  return { wasm: scores(true), js: scores(false) };
}

/** The largest move the int16 query rounding can cause on row i: scale_i * sum_d |v_d| * factor / 2. */
function roundingBound(query: Float32Array, vectors: Int8Array, scales: Float32Array, i: number): number {
  const dims = query.length;
  const factor = quantizeQuery16(query, new Int16Array(dims));
  let l1 = 0;
  for (let d = 0; d < dims; d++) l1 += Math.abs(vectors[i * dims + d]);
  return (scales[i] * l1 * factor) / 2;
}

/** The bits of float32 scores (exact equality, -0 apart from 0). */
const bits = (scores: Float32Array) => [...new Uint32Array(scores.buffer, scores.byteOffset, scores.length)];

/**
 * wasm and the JS reference give the same bits; both lie within the int16 rounding bound of the int8 score with the
 * float query (score.ts int8Dot).
 */
function expectInt8Parity(query: Float32Array, vectors: Int8Array, scales: Float32Array, wasm: Float32Array, js: Float32Array) {
  expect(bits(wasm)).toEqual(bits(js));
  for (let i = 0; i < js.length; i++) {
    const float = int8Dot(query, vectors, scales, i);
    const bound = roundingBound(query, vectors, scales, i) + 2e-7 * Math.abs(float) + 1e-30;
    expect(Math.abs(wasm[i] - float), `row ${i}: wasm ${wasm[i]} vs float query ${float}`).toBeLessThanOrEqual(bound);
  }
}

const DIMS = [16, 32, 48, 112, 128, 256, 384, 512, 768, 1008, 1024];

describe("scoring kernels: wasm SIMD against the JS reference", () => {
  const module = loadKernelsModule();

  it("compiles where the engine has wasm SIMD", () => {
    expect(hasWasmSimd()).toBe(true);
    expect(createKernels(module, { maxBytes: 1 << 20 }).simd).toBe(true);
  });

  it.each(DIMS)("int8 and binary scores agree on random data at %i dims (odd and even counts)", (dims) => {
    const r = rng(dims);
    for (const count of [1, 2, 4, 7, 64]) {
      const floats = Float32Array.from({ length: count * dims }, () => (r() - 0.5) * 3);
      const { vectors, scales } = quantizeInt8(floats, dims);
      const codes = signCodes(floats, dims);
      const query = Float32Array.from({ length: dims }, () => r() * 2 - 1);
      const k = createKernels(module, { maxBytes: 4 << 20 });
      const placed = place(k, vectors, scales, codes);
      const { wasm, js } = int8Both(k, query, placed);
      expectInt8Parity(query, vectors, scales, wasm, js);

      const binary = (simd: boolean) => {
        const q = k.prepare(query, { simd });
        q.binaryScores(placed.block, placed.out);
        q.release();
        return k.arena.f32At(placed.out, count).slice();
      };
      const bw = binary(true), bj = binary(false);
      const l1 = query.reduce((s, x) => s + Math.abs(x), 0);
      for (let i = 0; i < count; i++) expect(Math.abs(bw[i] - bj[i])).toBeLessThanOrEqual(1e-6 * l1);
    }
  });

  it("does not overflow on extreme lanes (all -128 or 127 against a query at its largest)", () => {
    for (const dims of [16, 512, 1024]) {
      const lanes = [-128, 127, 0];
      const vectors = new Int8Array(lanes.length * 2 * dims);
      lanes.forEach((v, i) => vectors.fill(v, i * dims, (i + 1) * dims));
      for (let d = 0; d < dims; d++) vectors[(3 + 0) * dims + d] = d % 2 ? 127 : -128; // alternating
      for (let d = 0; d < dims; d++) vectors[4 * dims + d] = d % 2 ? -128 : 127;
      vectors.fill(-128, 5 * dims, 6 * dims);
      const scales = new Float32Array([0.01, 0.01, 0.01, 0.01, 0.01, 0]); // the last: a zero-scale vector
      const codes = new Uint8Array(6 * codeBytes(dims));
      for (const query of [new Float32Array(dims).fill(1), new Float32Array(dims).fill(-1), Float32Array.from({ length: dims }, (_, d) => (d % 2 ? 1 : -1))]) {
        const k = createKernels(module, { maxBytes: 1 << 20 });
        const { wasm, js } = int8Both(k, query, place(k, vectors, scales, codes));
        expectInt8Parity(query, vectors, scales, wasm, js);
        expect(Math.sign(wasm[0])).toBe(Math.sign(js[0]));
        expect(wasm[2]).toBe(0);
        expect(Math.abs(wasm[5])).toBe(0); // -0 when the sum is negative, as in JS
      }
    }
  });

  it("scores a zero query as 0 and a zero vector as 0", () => {
    const dims = 64;
    const k = createKernels(module, { maxBytes: 1 << 20 });
    const vectors = Int8Array.from({ length: 2 * dims }, (_, i) => (i < dims ? 50 : 0));
    const placed = place(k, vectors, new Float32Array([0.02, 0.5]), new Uint8Array(2 * codeBytes(dims)));
    expect([...int8Both(k, new Float32Array(dims), placed).wasm]).toEqual([0, 0]);
    const q = Float32Array.from({ length: dims }, (_, d) => d / dims);
    expect(int8Both(k, q, placed).wasm[1]).toBe(0);
  });

  it("rescores listed rows exactly as the block pass does", () => {
    const dims = 512, count = 300;
    const r = rng(7);
    const floats = unitVectors(count, dims, r);
    const { vectors, scales } = quantizeInt8(floats, dims);
    const k = createKernels(module, { maxBytes: 4 << 20 });
    const placed = place(k, vectors, scales, signCodes(floats, dims));
    const query = unitVectors(1, dims, r);
    const rows = Uint32Array.from([299, 0, 17, 17, 150]);
    for (const simd of [true, false]) {
      const q = k.prepare(query, { simd });
      q.int8Scores(placed.block, placed.out);
      const all = k.arena.f32At(placed.out, count);
      expect([...q.int8RowScores(placed.block, rows)]).toEqual([...rows].map((i) => all[i]));
      expect(q.int8RowScores(placed.block, new Uint32Array(0))).toHaveLength(0);
      q.release();
    }
  });

  it("keeps the float query's int8 rankings on unit vectors: error about 1e-5 of the score range", () => {
    const dims = 512, count = 3000;
    const r = rng(42);
    const floats = unitVectors(count, dims, r);
    const { vectors, scales } = quantizeInt8(floats, dims);
    const k = createKernels(module, { maxBytes: 8 << 20 });
    const placed = place(k, vectors, scales, signCodes(floats, dims));
    const top = (s: Float32Array) => [...s.keys()].sort((a, b) => s[b] - s[a] || a - b).slice(0, 10);
    let worst = 0;
    for (let t = 0; t < 20; t++) {
      const query = unitVectors(1, dims, r);
      const { wasm, js } = int8Both(k, query, placed);
      expect(bits(wasm)).toEqual(bits(js));
      const float = Float32Array.from({ length: count }, (_, i) => int8Dot(query, vectors, scales, i));
      let err = 0, lo = Infinity, hi = -Infinity;
      float.forEach((x, i) => ((err = Math.max(err, Math.abs(wasm[i] - x))), (lo = Math.min(lo, x)), (hi = Math.max(hi, x))));
      worst = Math.max(worst, err / (hi - lo));
      expect(top(wasm)).toEqual(top(float));
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it("falls back to the JS reference without a module, and for dims the wasm kernels do not take", () => {
    const dims = 20;
    const r = rng(3);
    const floats = unitVectors(5, dims, r);
    const { vectors, scales } = quantizeInt8(floats, dims);
    const query = unitVectors(1, dims, r);
    for (const k of [createKernels(undefined, { maxBytes: 1 << 20 }), createKernels(module, { maxBytes: 1 << 20 })]) {
      const placed = place(k, vectors, scales, signCodes(floats, dims));
      const q = k.prepare(query);
      expect(q.simd).toBe(false);
      q.int8Scores(placed.block, placed.out);
      const scores = k.arena.f32At(placed.out, 5).slice();
      const q16 = quantizeQuery(query);
      expect(bits(scores)).toEqual(bits(Float32Array.from({ length: 5 }, (_, i) => int8Score(q16, vectors, scales, i))));
      for (let i = 0; i < 5; i++) {
        let dot = 0;
        for (let d = 0; d < dims; d++) dot += query[d] * vectors[i * dims + d];
        expect(Math.abs(scores[i] - dot * scales[i])).toBeLessThanOrEqual(roundingBound(query, vectors, scales, i) + 1e-7);
      }
      q.release();
    }
    expect(createKernels(undefined, { maxBytes: 1 << 20 }).simd).toBe(false);
  });

  it("refuses blocks outside memory, rows past the block, and released queries", () => {
    const dims = 32;
    for (const simd of [true, false]) {
      const k = createKernels(module, { maxBytes: 1 << 20 });
      const size = k.arena.memory.buffer.byteLength;
      const q = k.prepare(new Float32Array(dims).fill(0.1), { simd });
      const code = (fn: () => unknown) => {
        try {
          fn();
        } catch (e) {
          expect(e).toBeInstanceOf(KernelError);
          return (e as KernelError).code;
        }
      };
      expect(code(() => q.int8Scores({ vectors: size - 16, scales: 64, count: 2 }, 128))).toBe("out_of_bounds");
      expect(code(() => q.int8Scores({ vectors: 64, scales: 66, count: 2 }, 128))).toBe("out_of_bounds");
      expect(code(() => q.binaryScores({ codes: size - 2, count: 1 }, 128))).toBe("out_of_bounds");
      expect(code(() => q.int8RowScores({ vectors: 64, scales: 1024, count: 2 }, Uint32Array.of(2)))).toBe("out_of_bounds");
      expect(code(() => k.selectTop(size - 8, 4, 1, { simd }))).toBe("out_of_bounds");
      q.release();
      expect(code(() => q.int8Scores({ vectors: 64, scales: 1024, count: 1 }, 128))).toBe("released");
      expect(k.arena.stats().usedBytes).toBe(0);
    }
  });

  it("selects the rows of the k highest scores as the JS reference does, ties to the lower rows", () => {
    const r = rng(11);
    const k = createKernels(module, { maxBytes: 1 << 20 });
    const draws: Array<[string, () => number]> = [
      ["continuous", () => r() * 2 - 1],
      ["few values", () => Math.floor(r() * 5) - 2],
      ["signed zeros", () => (r() < 0.5 ? -0 : 0) + (r() < 0.1 ? 1 : 0)],
      ["all equal", () => 0.25],
    ];
    for (const [name, draw] of draws) {
      for (const count of [1, 2, 3, 5, 17, 1000, 4099]) {
        const at = k.arena.alloc(4 * count);
        k.arena.f32At(at, count).set(Float32Array.from({ length: count }, draw));
        for (const want of [0, 1, 3, 10, count - 1, count, count + 5]) {
          if (want < 0) continue;
          const wasm = k.selectTop(at, count, want);
          const js = k.selectTop(at, count, want, { simd: false });
          expect([...wasm], `${name}, ${want} of ${count}`).toEqual([...js]);
          expect(wasm).toHaveLength(Math.min(want, count));
        }
        k.arena.free(at);
      }
    }
    expect(k.arena.stats().usedBytes).toBe(0);
  });

  it("selects the true top k: nothing left out scores above anything picked", () => {
    const k = createKernels(module, { maxBytes: 1 << 20 });
    const r = rng(5);
    const count = 5000;
    const at = k.arena.alloc(4 * count);
    const scores = Float32Array.from({ length: count }, () => (r() - 0.5) ** 3);
    k.arena.f32At(at, count).set(scores);
    const picked = k.selectTop(at, count, 100);
    const inside = new Set(picked);
    const lowestPicked = Math.min(...[...picked].map((i) => scores[i]));
    const highestLeft = Math.max(...scores.filter((_, i) => !inside.has(i)));
    expect(lowestPicked).toBeGreaterThanOrEqual(highestLeft);
    expect([...picked]).toEqual([...picked].sort((a, b) => a - b));
  });
});
