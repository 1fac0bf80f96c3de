// offline/retry.ts: the one retry loop (HTTP storage targets, the smoke search after a publish).
import { describe, expect, it } from "vitest";
import { backoff, retry } from "../../offline/retry.ts";

describe("retry", () => {
  it("stops at the first attempt that is done, pausing between attempts", async () => {
    const pauses: number[] = [];
    const r = await retry(async (n) => (n < 3 ? { again: `not yet ${n}` } : { done: n * 10 }), {
      attempts: 5,
      delayMs: (n) => (pauses.push(n), 1),
    });
    expect(r).toEqual({ ok: true, value: 30 });
    expect(pauses).toEqual([1, 2]);
  });

  it("gives up after `attempts` with the last reason, without a pause after the last", async () => {
    const pauses: number[] = [];
    const r = await retry(async (n) => ({ again: new Error(`HTTP 503 (${n})`) }), { attempts: 3, delayMs: (n) => (pauses.push(n), 1) });
    expect(r).toMatchObject({ ok: false, attempts: 3 });
    expect(String((r as { last: unknown }).last)).toBe("Error: HTTP 503 (3)");
    expect(pauses).toEqual([1, 2]);
  });

  it("gives up once the deadline has passed, after at least one attempt", async () => {
    let calls = 0;
    const t0 = Date.now();
    const r = await retry(async () => (calls++, { again: "stale" }), { attempts: Infinity, deadlineMs: 30, delayMs: () => 5 });
    expect(r).toMatchObject({ ok: false, last: "stale" });
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - t0).toBeLessThan(1000);
    const once = await retry(async () => (calls++, { again: "x" }), { attempts: Infinity, deadlineMs: 0, delayMs: () => 5 });
    expect(once).toMatchObject({ ok: false, attempts: 1 });
  });

  it("does not retry a thrown error", async () => {
    let calls = 0;
    await expect(retry(async () => {
      calls++;
      throw new Error("not retryable");
    }, { attempts: 5, delayMs: () => 1 })).rejects.toThrow("not retryable");
    expect(calls).toBe(1);
  });

  it("backs off exponentially with jitter in [0.5, 1.5)", () => {
    const d = backoff(100);
    for (let n = 1; n <= 4; n++) {
      const ms = d(n);
      expect(ms).toBeGreaterThanOrEqual(100 * 2 ** (n - 1) * 0.5);
      expect(ms).toBeLessThan(100 * 2 ** (n - 1) * 1.5);
    }
  });
});
