// The isolate's byte cache (src/worker/store/byte-cache.ts): least recently used first, never the entry just inserted,
// and protected entries (a doc block's offsets table) evicted after the rest while they take at most their share.
import { describe, expect, it } from "vitest";
import { createByteCache, PROTECTED_SHARE } from "../../../src/worker/store/byte-cache";

describe("byte cache", () => {
  it("evicts the least recently used entries first, calling their onEvict, and never the entry just inserted", () => {
    const cache = createByteCache(100);
    const evicted: string[] = [];
    for (const k of ["a", "b", "c"]) cache.set(k, k, 30, () => evicted.push(k));
    expect(cache.get("a")).toBe("a"); // b is now the oldest
    cache.set("d", "d", 30, () => evicted.push("d"));
    expect(evicted).toEqual(["b"]);
    expect(cache.bytes).toBe(90);
    cache.set("huge", "huge", 500); // larger than the budget: everything else goes, it stays
    expect(evicted).toEqual(["b", "c", "a", "d"]);
    expect(cache.get("huge")).toBe("huge");
    expect(cache.bytes).toBe(500);
  });

  it("keeps protected entries while large ones stream through, up to their share of the budget", () => {
    const budget = 1000;
    const cache = createByteCache(budget);
    const share = PROTECTED_SHARE * budget; // 125
    for (let i = 0; i < 10; i++) cache.set(`index${i}`, i, 10, undefined, { protect: true }); // 100 bytes, within the share
    for (let i = 0; i < 50; i++) cache.set(`bucket${i}`, i, 90); // 4,500 bytes of large entries pass through
    for (let i = 0; i < 10; i++) expect(cache.get(`index${i}`)).toBe(i);
    expect(cache.get("bucket0")).toBeUndefined();
    expect(cache.get("bucket49")).toBe(49);
    // Past their share, protected entries evict one another, oldest first (index0 was used last above, so index1 goes).
    expect(cache.get("index0")).toBe(0);
    for (let i = 10; i < 13; i++) cache.set(`index${i}`, i, 10, undefined, { protect: true });
    cache.set("bucket50", 50, 90);
    expect(cache.get("index1")).toBeUndefined();
    expect(cache.get("index0")).toBe(0);
    expect(cache.bytes).toBeLessThanOrEqual(budget);
    const protectedLeft = [...Array(13).keys()].filter((i) => cache.get(`index${i}`) !== undefined).length * 10;
    expect(protectedLeft).toBeLessThanOrEqual(share);
  });

  it("moves a key between the two orders when it is set again, counting its bytes once", () => {
    const cache = createByteCache(100);
    cache.set("k", 1, 40, undefined, { protect: true });
    cache.set("k", 2, 50);
    expect(cache.get("k")).toBe(2);
    expect(cache.bytes).toBe(50);
    cache.delete("k");
    expect(cache.bytes).toBe(0);
    expect(cache.get("k")).toBeUndefined();
  });
});
