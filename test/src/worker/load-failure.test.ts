// src/worker/store/load-failure.ts: the back-off of a version that could not be loaded.
import { describe, expect, it } from "vitest";
import { FormatError } from "../../../src/format";
import { BACKOFF, IndexTooLargeError, failureKind, nextFailure } from "../../../src/worker/store/load-failure.ts";

describe("load failure back-off", () => {
  it("doubles per failure of the same version up to its cap; transient errors come back sooner than corrupt bytes", () => {
    const delays = (e: unknown, n: number) => {
      let f = null as ReturnType<typeof nextFailure> | null;
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        f = nextFailure(f, "v1", e, 1000);
        out.push(f.retryAt - 1000);
      }
      return out;
    };
    expect(delays(new Error("R2 timeout"), 7)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(delays(new FormatError("checksum_mismatch", "x"), 8)).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000]);
    expect(BACKOFF.transient.firstMs).toBeLessThan(BACKOFF.permanent.firstMs);
    expect(delays(new Error("x"), 200).at(-1)).toBe(60_000); // no overflow
  });

  it("starts over for another version; a pointer read is always transient; too large answers index_too_large", () => {
    const f1 = nextFailure(null, "v1", new FormatError("invalid_object", "x"), 0);
    expect(nextFailure(f1, "v1", new Error("x"), 0).attempts).toBe(2);
    expect(nextFailure(f1, "v2", new Error("x"), 0)).toMatchObject({ attempts: 1, kind: "transient", retryAt: 2_000 });
    expect(nextFailure(null, null, new FormatError("invalid_pointer", "x"), 0)).toMatchObject({ kind: "transient", code: "index_unavailable" });
    const big = new IndexTooLargeError("index_too_large", "x");
    expect([failureKind(big), nextFailure(null, "v", big, 0).code]).toEqual(["permanent", "index_too_large"]);
  });
});
