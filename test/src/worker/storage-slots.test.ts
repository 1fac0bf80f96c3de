// src/worker/store/storage.ts: a request's reads wait for one of 6 connection slots.
import { describe, expect, it } from "vitest";
import { CONNECTIONS, slots } from "../../../src/worker/store/storage.ts";

describe("connection slots of a request", () => {
  it("never has more than n reads in flight, runs them all, and frees a slot when a read fails", async () => {
    const slot = slots(CONNECTIONS);
    let inFlight = 0, peak = 0;
    const read = (i: number) => slot(async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 1 + (i % 3)));
      inFlight--;
      if (i % 7 === 0) throw new Error(`read ${i} failed`);
      return i;
    });
    const settled = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => read(i)));
    expect(peak).toBe(CONNECTIONS);
    expect(settled.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(
      Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 7 !== 0),
    );
    expect(await slot(async () => "after")).toBe("after"); // every slot came back
  });
});
