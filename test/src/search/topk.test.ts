import { describe, expect, it } from "vitest";
import { createTopK, sortByScore, topIndices } from "../../../src/search/topk";
import { rng } from "../../../src/random";

describe("createTopK", () => {
  it("keeps the first k of (score descending, id ascending), whatever the order of the pushes", () => {
    // Many ties: scores from 5 values.
    const items = Array.from({ length: 200 }, (_, id) => ({ id, score: (id * 7919) % 5 }));
    const order = [...items].sort((a, b) => b.score - a.score || a.id - b.id);
    for (const seed of [1, 2, 3]) {
      const shuffled = [...items];
      const rnd = rng(seed);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      for (const k of [1, 10, 37, 200, 300]) {
        const top = createTopK(k);
        for (const x of shuffled) top.push(x.id, x.score);
        expect(top.sorted()).toEqual(order.slice(0, k));
      }
    }
  });
});

describe("topIndices", () => {
  /** createTopK over the scores as topDocuments used it: only scores above its threshold are pushed. */
  const reference = (scores: Float32Array, k: number) => {
    const top = createTopK(k);
    scores.forEach((s, i) => {
      if (s > top.threshold()) top.push(i, s);
    });
    return top.sorted().map((t) => t.id);
  };

  it("gives createTopK's order (score descending, index ascending) on continuous, tied, signed-zero and equal scores", () => {
    const r = rng(9);
    const draws: Array<[string, () => number]> = [
      ["continuous", () => r() * 2 - 1],
      ["clustered near one value", () => 0.8 + r() * 1e-6],
      ["few values", () => Math.floor(r() * 5) - 2],
      ["signed zeros", () => (r() < 0.5 ? -0 : 0) + (r() < 0.1 ? 1 : 0)],
      ["all equal", () => 0.25],
      ["with -Infinity and NaN", () => (r() < 0.3 ? -Infinity : r() < 0.1 ? NaN : r())],
      ["only -Infinity", () => -Infinity],
    ];
    for (const [name, draw] of draws) {
      for (const n of [0, 1, 2, 17, 1000, 5000]) {
        const scores = Float32Array.from({ length: n }, draw);
        for (const k of [0, 1, 3, 64, 800, n - 1, n, n + 5]) {
          if (k < 0) continue;
          expect([...topIndices(scores, k)], `${name}: ${k} of ${n}`).toEqual(reference(scores, k));
        }
      }
    }
  });

  it("scores extreme ranges (an infinite score, the float32 extremes)", () => {
    const scores = Float32Array.from([1, Infinity, -3.4e38, 3.4e38, 0, Infinity, -Infinity]);
    for (const k of [1, 2, 3, 6, 7]) expect([...topIndices(scores, k)]).toEqual(reference(scores, k));
  });
});

describe("sortByScore", () => {
  it("orders rows by score descending, then row ascending, over the whole float32 range", () => {
    const r = rng(4);
    const specials = [0, -0, 1e-45, -1e-45, 3.4e38, -3.4e38, Infinity, -Infinity, 0.5, -0.5];
    const scores = Float32Array.from({ length: 3000 }, (_, i) => (i < 300 ? specials[i % specials.length] : r() < 0.5 ? (r() - 0.5) * 10 : Math.floor(r() * 4)));
    const rows = Uint32Array.from({ length: 3000 }, (_, i) => (i * 7919) % 3000);
    const want = [...rows].sort((a, b) => (scores[b] === scores[a] ? a - b : scores[b] > scores[a] ? 1 : -1));
    expect([...sortByScore(scores, rows)]).toEqual(want);
  });
});
