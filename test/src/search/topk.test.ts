import { describe, expect, it } from "vitest";
import { createTopK } from "../../../src/search/topk";
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
