// The query model's kernels (kernels.wat range_f32, quantize_u8, transpose_i8, qgemm, attn_scores, attn_mix) against
// plain JS written from the ONNX and onnxruntime definitions they follow (the attention's from its own order of f32
// steps): the same bits.
import { describe, expect, it } from "vitest";
import { createArena } from "../../../../src/search/kernels";
import { rng } from "../../../../src/random.ts";
import { loadKernelsModule } from "./module";

interface QueryKernels {
  range_f32(x: number, count: number, mm: number): void;
  quantize_u8(x: number, count: number, scale: number, zp: number, a16: number): void;
  transpose_i8(src: number, rows: number, cols: number, dst: number): void;
  qgemm(a16: number, tokens: number, k: number, w: number, n: number, ascale: number, wscale: number, bias: number, out: number): void;
  attn_scores(qkv: number, t: number, width: number, qo: number, hd: number, s: number): void;
  attn_mix(qkv: number, t: number, width: number, qo: number, hd: number, a: number, out: number): void;
}

function setup() {
  const arena = createArena({ maxBytes: 32 << 20 });
  const k = new WebAssembly.Instance(loadKernelsModule(), { env: { memory: arena.memory } }).exports as unknown as QueryKernels;
  return { arena, k };
}

const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

describe("the query model's kernels", () => {
  it("range_f32: min(0, min x) and max(0, max x)", () => {
    const { arena, k } = setup();
    const r = rng(3);
    for (const [count, shift] of [[8, 1], [8, -1], [1024, 0], [4, 5]]) {
      const x = Float32Array.from({ length: count }, () => r() * 4 - 2 + shift);
      const at = arena.alloc(4 * count);
      const mm = arena.alloc(8);
      arena.f32At(at, count).set(x);
      k.range_f32(at, count, mm);
      expect(Array.from(arena.f32At(mm, 2))).toEqual([Math.min(0, ...x), Math.max(0, ...x)]);
    }
  });

  it("quantize_u8: ONNX DynamicQuantizeLinear's uint8 (divide, round half to even, add the zero point, clamp) less the zero point", () => {
    const { arena, k } = setup();
    const r = rng(5);
    const scale = Math.fround(0.013);
    const zp = 97;
    // random values, values on the half-way points, and values past both ends of the range
    const x = new Float32Array(1024);
    for (let i = 0; i < x.length; i++) x[i] = i % 4 === 0 ? Math.fround((Math.floor(r() * 300) - 150 + 0.5) * scale) : (r() - 0.5) * 8;
    const at = arena.alloc(4 * x.length);
    const out = arena.alloc(2 * x.length);
    arena.f32At(at, x.length).set(x);
    k.quantize_u8(at, x.length, scale, zp, out);
    const want = Array.from(x, (v) => Math.min(255, Math.max(0, roundHalfEven(Math.fround(v / scale)) + zp)) - zp);
    expect(Array.from(arena.i16At(out, x.length))).toEqual(want);
    expect(want.some((v) => v === 255 - zp) && want.some((v) => v === -zp)).toBe(true); // both ends were clamped
  });

  it("transpose_i8: an int8 matrix transposed", () => {
    const { arena, k } = setup();
    const rows = 48, cols = 80;
    const src = Int8Array.from({ length: rows * cols }, (_, i) => (i * 37) % 255 - 127);
    const a = arena.alloc(rows * cols);
    const b = arena.alloc(rows * cols);
    arena.int8At(a, rows * cols).set(src);
    k.transpose_i8(a, rows, cols, b);
    const t = arena.int8At(b, rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(t[c * rows + r]).toBe(src[r * cols + c]);
  });

  it("qgemm: exact int32 sums, then f32(sum) * f32(ascale * wscale[j]) + bias[j], for every token and column", () => {
    const { arena, k } = setup();
    const r = rng(9);
    for (const [tokens, depth, n] of [[2, 256, 768], [6, 1536, 512], [32, 512, 1536]]) {
      // extreme operands too: |a| up to 255 and w = -128, so the int32 sums reach their largest
      const a = Int16Array.from({ length: tokens * depth }, (_, i) => (i % 97 === 0 ? -255 : Math.floor(r() * 511) - 255));
      const w = Int8Array.from({ length: n * depth }, (_, i) => (i % 89 === 0 ? -128 : Math.floor(r() * 256) - 128));
      const wscale = Float32Array.from({ length: n }, () => r() * 0.01);
      const bias = Float32Array.from({ length: n }, () => r() - 0.5);
      const ascale = Math.fround(0.02);
      const at = { a: arena.alloc(2 * a.length), w: arena.alloc(w.length), s: arena.alloc(4 * n), b: arena.alloc(4 * n), out: arena.alloc(4 * tokens * n) };
      arena.i16At(at.a, a.length).set(a);
      arena.int8At(at.w, w.length).set(w);
      arena.f32At(at.s, n).set(wscale);
      arena.f32At(at.b, n).set(bias);
      k.qgemm(at.a, tokens, depth, at.w, n, ascale, at.s, at.b, at.out);
      const got = arena.f32At(at.out, tokens * n);
      for (let t = 0; t < tokens; t++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let d = 0; d < depth; d++) sum += a[t * depth + d] * w[j * depth + d];
          const want = Math.fround(Math.fround(Math.fround(sum) * Math.fround(ascale * wscale[j])) + bias[j]);
          if (got[t * n + j] !== want) expect([t, j, got[t * n + j]]).toEqual([t, j, want]);
        }
      }
      for (const o of Object.values(at)) arena.free(o);
    }
  });

  it("attn_scores and attn_mix: one head's q.k in four f32 lanes, and its weighted sum of v in f32, token by token", () => {
    const { arena, k } = setup();
    const r = rng(11);
    const f = Math.fround;
    for (const [t, width, head] of [[1, 256, 0], [7, 256, 3], [32, 512, 2]]) {
      const hd = width / 4;
      const qo = head * hd;
      const stride = 3 * width;
      const qkv = Float32Array.from({ length: t * stride }, () => r() * 4 - 2);
      const at = { qkv: arena.alloc(4 * qkv.length), s: arena.alloc(4 * t * t), out: arena.alloc(4 * t * width) };
      arena.f32At(at.qkv, qkv.length).set(qkv);
      k.attn_scores(at.qkv, t, width, qo, hd, at.s);
      const scores = arena.f32At(at.s, t * t).slice();
      for (let i = 0; i < t; i++) {
        for (let j = 0; j < t; j++) {
          const lanes = [0, 0, 0, 0];
          for (let d = 0; d < hd; d++) lanes[d % 4] = f(lanes[d % 4] + f(qkv[i * stride + qo + d] * qkv[j * stride + width + qo + d]));
          expect(scores[i * t + j]).toBe(f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3])));
        }
      }
      const weights = Float32Array.from({ length: t * t }, () => r());
      arena.f32At(at.s, t * t).set(weights);
      arena.f32At(at.out, t * width).fill(7); // the head's columns are overwritten, the rest left alone
      k.attn_mix(at.qkv, t, width, qo, hd, at.s, at.out);
      const out = arena.f32At(at.out, t * width);
      for (let i = 0; i < t; i++) {
        for (let d = 0; d < width; d++) {
          if (d < qo || d >= qo + hd) {
            expect(out[i * width + d]).toBe(7);
            continue;
          }
          let sum = 0;
          for (let j = 0; j < t; j++) sum = f(sum + f(weights[i * t + j] * qkv[j * stride + 2 * width + d]));
          expect(out[i * width + d]).toBe(sum);
        }
      }
      for (const o of Object.values(at)) arena.free(o);
    }
  });
});
