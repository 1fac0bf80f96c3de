import { describe, expect, it } from "vitest";
import { codeBytes, dequantizeInt8, quantizeInt8, signCodes } from "../../../src/format/index.ts";

function randomVectors(count: number, dims: number, seed = 1): Float32Array {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const out = new Float32Array(count * dims);
  for (let v = 0; v < count; v++) {
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += (out[v * dims + i] = rnd()) ** 2;
    for (let i = 0; i < dims; i++) out[v * dims + i] /= Math.sqrt(norm);
  }
  return out;
}

describe("quantizeInt8", () => {
  it("stays within the documented bound max|x| / 254 per component", () => {
    const dims = 37;
    const x = randomVectors(50, dims);
    const q = quantizeInt8(x, dims);
    const back = dequantizeInt8(q, dims);
    for (let v = 0; v < 50; v++) {
      let maxAbs = 0;
      for (let i = 0; i < dims; i++) maxAbs = Math.max(maxAbs, Math.abs(x[v * dims + i]));
      expect(q.scales[v]).toBeCloseTo(maxAbs / 127, 7);
      for (let i = 0; i < dims; i++) {
        expect(Math.abs(x[v * dims + i] - back[v * dims + i])).toBeLessThanOrEqual(maxAbs / 254 + 1e-7);
        expect(Math.abs(q.vectors[v * dims + i])).toBeLessThanOrEqual(127);
      }
    }
  });

  it("maps the max-abs component to +-127 and a zero vector to scale 0", () => {
    const q = quantizeInt8(new Float32Array([0.5, -1, 0.25, 0, 0, 0, 0, 0]), 4);
    expect(Array.from(q.vectors.subarray(0, 4))).toEqual([64, -127, 32, 0]);
    expect(q.scales[1]).toBe(0);
    expect(Array.from(q.vectors.subarray(4))).toEqual([0, 0, 0, 0]);
  });

  it("rejects bad dims and non-finite values", () => {
    expect(() => quantizeInt8(new Float32Array(5), 2)).toThrow(RangeError);
    expect(() => quantizeInt8(new Float32Array([NaN, 1]), 2)).toThrow(RangeError);
  });
});

describe("signCodes", () => {
  it("sets bit i (LSB first) when x_i > 0, ceil(dims/8) bytes per vector", () => {
    expect(codeBytes(9)).toBe(2);
    const x = new Float32Array([1, -1, 0, 2, 0, 0, 0, 0.1, 3, /* v1 */ -1, -1, -1, -1, -1, -1, -1, -1, 5]);
    expect(Array.from(signCodes(x, 9))).toEqual([0b10001001, 0b1, 0, 0b1]);
  });

  it("agrees between float and int8 vectors away from zero", () => {
    const x = randomVectors(10, 64, 7);
    for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) < 0.01) x[i] = 0.5;
    expect(signCodes(quantizeInt8(x, 64).vectors, 64)).toEqual(signCodes(x, 64));
  });
});
