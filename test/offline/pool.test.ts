// offline/pool.ts: the one bounded-concurrency loop (verification, uploads, version listing).
import { describe, expect, it } from "vitest";
import { forEachLimit } from "../../offline/pool.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("forEachLimit", () => {
  it("visits every item once with at most `limit` calls in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimit([...Array(20).keys()], 3, async (x, i) => {
      expect(i).toBe(x);
      most = Math.max(most, ++inFlight);
      await tick();
      seen.push(x);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(most).toBe(3);
  });

  it("rejects with the first error and starts nothing after it", async () => {
    const started: number[] = [];
    const e = await forEachLimit([0, 1, 2, 3, 4, 5], 2, async (x) => {
      started.push(x);
      await tick();
      if (x === 1) throw new Error("boom 1");
      if (x === 2) throw new Error("boom 2");
    }).catch((x) => x);
    expect(e.message).toBe("boom 1");
    expect(started).toEqual([0, 1, 2]);
  });

  it("does nothing for no items", async () => {
    let calls = 0;
    await forEachLimit([], 4, async () => void calls++);
    expect(calls).toBe(0);
  });
});
