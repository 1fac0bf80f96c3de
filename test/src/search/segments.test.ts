// src/search/segments.ts: the base and the delta of an updated version searched as one index.
import { describe, expect, it } from "vitest";
import { encodeTombstones, decodeTombstones } from "../../../src/format/index.ts";
import { docFilter } from "../../../src/search/filter.ts";
import { liveDocuments, versionFilter } from "../../../src/search/segments.ts";

describe("segments", () => {
  it("liveDocuments: every base document not tombstoned, every delta document; none when nothing is deleted", () => {
    const tombstones = decodeTombstones(encodeTombstones([1, 33], 40));
    const live = liveDocuments({ base: 40, delta: 5, tombstones })!;
    expect(live.count).toBe(43);
    expect([1, 33].map((o) => live.has(o))).toEqual([false, false]);
    expect([0, 39, 40, 44].map((o) => live.has(o))).toEqual([true, true, true, true]);
    expect(liveDocuments({ base: 40, delta: 5 })).toBeUndefined();
    expect(liveDocuments({ base: 40, delta: 5, tombstones: decodeTombstones(encodeTombstones([], 40)) })).toBeUndefined();
  });

  it("versionFilter: the base's and the delta's matches as one filter, less the deleted", () => {
    const base = docFilter(new Uint32Array([0b1011, 1 << 1]), 35); // 0, 1, 3, 33
    const delta = docFilter(new Uint32Array([0b101]), 3); // 0, 2
    const f = versionFilter(base, delta, { base: 35, delta: 3, tombstones: decodeTombstones(encodeTombstones([3], 35)) });
    expect([...Array(38).keys()].filter((o) => f.has(o))).toEqual([0, 1, 33, 35, 37]);
    expect(f.count).toBe(5);
  });
});
