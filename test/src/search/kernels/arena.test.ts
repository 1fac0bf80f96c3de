import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createArena, KernelError, type Arena } from "../../../../src/search/kernels";

const PAGE = 65536;

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KernelError);
    expect((e as KernelError).code).toBe(code);
    return;
  }
  throw new Error(`expected KernelError ${code}, nothing was thrown`);
}

/** Live allocations are aligned, inside memory, pairwise disjoint, and add up to usedBytes. */
function checkInvariants(arena: Arena, live: Map<number, number>): void {
  const spans = [...live].map(([at, bytes]) => ({ at, end: at + arena.sizeOf(at), bytes })).sort((a, b) => a.at - b.at);
  for (const [i, s] of spans.entries()) {
    expect(s.at % 16).toBe(0);
    expect(s.at).toBeGreaterThan(0);
    expect(s.end - s.at).toBeGreaterThanOrEqual(s.bytes);
    expect(s.end).toBeLessThanOrEqual(arena.memory.buffer.byteLength - 16);
    if (i > 0) expect(s.at).toBeGreaterThanOrEqual(spans[i - 1].end);
  }
  expect(arena.stats().usedBytes).toBe(spans.reduce((n, s) => n + s.end - s.at, 0));
  expect(arena.stats().allocations).toBe(live.size);
}

/** A refused request fits no free block, and the memory cannot grow by enough for it. */
function expectFull(arena: Arena, bytes: number): void {
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const s = arena.stats();
  expect(s.largestFree).toBeLessThan(size);
  expect(s.maxBytes - s.memoryBytes).toBeLessThan(Math.ceil(size / PAGE) * PAGE);
}

describe("kernel arena", () => {
  it("hands out aligned, disjoint blocks and reuses a freed block first-fit", () => {
    const arena = createArena({ maxBytes: 4 * PAGE });
    const a = arena.alloc(100), b = arena.alloc(1), c = arena.alloc(0);
    expect([a % 16, b % 16, c % 16]).toEqual([0, 0, 0]);
    expect([arena.sizeOf(a), arena.sizeOf(b), arena.sizeOf(c)]).toEqual([112, 16, 16]);
    expect(b).toBe(a + 112);
    expect(c).toBe(b + 16);
    arena.free(b);
    expect(arena.alloc(10)).toBe(b);
  });

  it("merges a freed block with both free neighbours", () => {
    const arena = createArena({ maxBytes: 4 * PAGE });
    const [a, b, c, d] = [64, 64, 64, 64].map((n) => arena.alloc(n));
    arena.free(a);
    arena.free(c);
    expect(arena.stats().freeBlocks).toBe(3); // a, c, and the tail after d
    arena.free(b);
    expect(arena.stats().freeBlocks).toBe(2); // a+b+c, the tail
    expect(arena.alloc(192)).toBe(a);
    arena.free(a);
    arena.free(d);
    expect(arena.stats()).toMatchObject({ freeBlocks: 1, usedBytes: 0, allocations: 0, largestFree: PAGE - 32 });
  });

  it("grows memory past holes too small for a request, and keeps data at its offset", () => {
    const arena = createArena({ maxBytes: 16 * PAGE });
    const small = Array.from({ length: 200 }, () => arena.alloc(200));
    small.filter((_, i) => i % 2 === 0).forEach((at) => arena.free(at));
    const keep = small[1];
    arena.u8At(keep, 200).fill(7);
    const stale = arena.u8At(keep, 200);
    const big = arena.alloc(3 * PAGE);
    expect(arena.memory.buffer.byteLength).toBeGreaterThan(PAGE);
    expect(big).toBeGreaterThan(small[small.length - 1]);
    expect(stale.byteLength).toBe(0); // growth detached the old view: callers make views per use
    expect([...arena.u8At(keep, 200)].every((x) => x === 7)).toBe(true);
    expect(arena.stats().largestFree).toBeLessThan(3 * PAGE);
  });

  it("refuses at the cap, and succeeds again once memory is freed", () => {
    const arena = createArena({ maxBytes: 2 * PAGE + 100 });
    const a = arena.alloc(PAGE);
    expect(arena.tryAlloc(PAGE)).toBe(-1);
    expectCode(() => arena.alloc(PAGE), "arena_full");
    expect(arena.stats()).toMatchObject({ maxBytes: 2 * PAGE, memoryBytes: 2 * PAGE });
    arena.free(a);
    expect(arena.alloc(2 * PAGE - 32)).toBe(16);
  });

  it("rejects bad sizes, frees, views and caps with coded errors", () => {
    const arena = createArena({ maxBytes: PAGE });
    expectCode(() => arena.alloc(-1), "bad_size");
    expectCode(() => arena.alloc(1.5), "bad_size");
    const a = arena.alloc(32);
    expectCode(() => arena.free(a + 16), "bad_free");
    arena.free(a);
    expectCode(() => arena.free(a), "bad_free");
    expectCode(() => arena.sizeOf(a), "bad_free");
    expectCode(() => arena.f32At(PAGE - 4, 2), "out_of_bounds");
    expectCode(() => arena.u8At(-1, 1), "out_of_bounds");
    expectCode(() => createArena({ maxBytes: 1000 }), "bad_size");
    expect(() => arena.f32At(2, 1)).toThrow(RangeError); // a Float32Array view needs 4-byte alignment
  });

  it("keeps its invariants over random alloc/free sequences, and ends as one free block", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40_000 }), fc.nat()), { maxLength: 80 }), (ops) => {
        const arena = createArena({ maxBytes: 8 * PAGE });
        const live = new Map<number, number>();
        for (const [doAlloc, bytes, pick] of ops) {
          if (doAlloc || live.size === 0) {
            const at = arena.tryAlloc(bytes);
            if (at >= 0) live.set(at, bytes);
            else expectFull(arena, bytes);
          } else {
            const at = [...live.keys()][pick % live.size];
            arena.free(at);
            live.delete(at);
          }
          checkInvariants(arena, live);
        }
        for (const at of live.keys()) arena.free(at);
        const s = arena.stats();
        expect(s).toMatchObject({ usedBytes: 0, allocations: 0, freeBlocks: 1, largestFree: s.memoryBytes - 32 });
      }),
      { numRuns: 200 },
    );
  });
});
