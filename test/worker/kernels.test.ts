import { describe, expect, it } from "vitest";
import { createKernels, hasWasmSimd } from "../../src/search/kernels";
import kernelsModule from "../../src/search/kernels/kernels.wasm";

describe("scoring kernels in workerd", () => {
  it("imports kernels.wasm as a module (the worker way) and scores on wasm SIMD", () => {
    expect(hasWasmSimd()).toBe(true);
    expect(kernelsModule).toBeInstanceOf(WebAssembly.Module);
    const kernels = createKernels(kernelsModule, { maxBytes: 1 << 20 });
    expect(kernels.simd).toBe(true);

    const dims = 16;
    const { arena } = kernels;
    const block = { vectors: arena.alloc(2 * dims), scales: arena.alloc(8), codes: arena.alloc(4), count: 2 };
    arena.int8At(block.vectors, 2 * dims).set(Int8Array.from({ length: 2 * dims }, (_, i) => (i < dims ? 127 : -128)));
    arena.f32At(block.scales, 2).set([0.5, 0.25]);
    arena.u8At(block.codes, 4).set([0xff, 0x0f, 0x00, 0x00]);
    const out = arena.alloc(8);

    const q = kernels.prepare(new Float32Array(dims).fill(0.25));
    expect(q.simd).toBe(true);
    q.int8Scores(block, out);
    const [a, b] = arena.f32At(out, 2);
    expect(a).toBeCloseTo(0.5 * 127 * 0.25 * dims, 3); // 254
    expect(b).toBeCloseTo(-0.25 * 128 * 0.25 * dims, 3); // -128
    q.binaryScores(block, out);
    expect([...arena.f32At(out, 2)]).toEqual([0.25 * (12 - 4), -0.25 * dims]); // 12 bits set of 16; none
    q.release();
  });
});
