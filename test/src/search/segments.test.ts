// src/search/segments.ts: the base and the delta of an updated version searched as one index.
import { describe, expect, it } from "vitest";
import { encodeTombstones, decodeTombstones } from "../../../src/format/index.ts";
import type { DenseResult } from "../../../src/search/dense.ts";
import { docFilter } from "../../../src/search/filter.ts";
import { liveDocuments, mergeDense, versionFilter, versionOrdinals } from "../../../src/search/segments.ts";

const result = (hits: Array<[number, number]>, floor = -1): DenseResult => ({
  hits: hits.map(([ordinal, score]) => ({ ordinal, score })),
  scores: (ords) => new Map(ords.map((o) => [o, hits.find((h) => h[0] === o)?.[1] ?? floor])),
});

describe("segments", () => {
  it("mergeDense: the top n of both sides (ties: lower ordinal), each document scored by its own segment", () => {
    const m = mergeDense(result([[3, 0.9], [1, 0.5], [7, 0.2]], 0.1), result([[11, 0.7], [10, 0.5]], -0.5), 10, 4);
    expect(m.hits).toEqual([{ ordinal: 3, score: 0.9 }, { ordinal: 11, score: 0.7 }, { ordinal: 1, score: 0.5 }, { ordinal: 10, score: 0.5 }]);
    expect([...m.scores([7, 12, 2, 11])]).toEqual([[7, 0.2], [2, 0.1], [12, -0.5], [11, 0.7]]);
  });

  it("versionOrdinals moves a delta shard's rows to the version's ordinals, leaving the decoded shard as it was", () => {
    const shard = { count: 2, dims: 1, vectors: new Int8Array(2), scales: new Float32Array(2), codes: new Uint8Array(2), ordinals: new Uint32Array([0, 1]) };
    expect([...versionOrdinals(shard, 40).ordinals]).toEqual([40, 41]);
    expect([...shard.ordinals]).toEqual([0, 1]);
  });

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
