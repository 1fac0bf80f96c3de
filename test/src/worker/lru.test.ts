// src/worker/lru.ts: the bounded map behind the isolate's per-name state.
import { describe, expect, it } from "vitest";
import { createLru } from "../../../src/worker/lru.ts";

describe("bounded LRU map", () => {
  it("keeps at most max entries, dropping the least recently used (a get counts as a use)", () => {
    const evicted: string[] = [];
    const m = createLru<number>({ max: 2, onEvict: (k) => evicted.push(k) });
    m.set("a", 1);
    m.set("b", 2);
    expect(m.get("a")).toBe(1);
    m.set("c", 3);
    expect(evicted).toEqual(["b"]);
    expect([m.get("a"), m.get("b"), m.get("c"), m.size]).toEqual([1, undefined, 3, 2]);
    m.set("a", 10); // a replace is a use, not a new entry
    m.set("d", 4);
    expect(evicted).toEqual(["b", "c"]);
    m.delete("a");
    expect(m.size).toBe(1);
  });

  it("with ttlMs, an entry is absent from its ttl on (and dropped); ttl 0 keeps nothing", () => {
    let t = 0;
    const m = createLru<true>({ max: 10, ttlMs: 1000, now: () => t });
    m.set("x", true);
    t = 999;
    expect(m.get("x")).toBe(true);
    t = 1000;
    expect(m.get("x")).toBeUndefined();
    expect(m.size).toBe(0);
    const none = createLru<true>({ max: 10, ttlMs: 0, now: () => 5 });
    none.set("y", true);
    expect(none.get("y")).toBeUndefined();
  });
});
