// Concurrent misses of one object share one fetch (src/worker/store/r2.ts cachedObject over byte-cache.ts cachedLoad):
// the requests of an isolate that miss the same BM25 bucket at once read it from R2 once, and all get the same decoded
// value. A shared load runs under the waitUntil of the request that began it, and one that never settles (its request
// cut short) is not joined forever.
import { describe, expect, it, vi } from "vitest";
import { decodeLexicalBucket, parseManifest } from "../../src/format";
import { cachedLoad, createByteCache, INFLIGHT_STALE_MS } from "../../src/worker/store/byte-cache";
import { cachedObject } from "../../src/worker/store/r2";
import { CONNECTIONS, slots, type Storage } from "../../src/worker/store/storage";
import { FIXTURE_INDEX, bucket, publishBuildDir, repoJson } from "./helpers";

const storage = (): Storage => ({ bucket, slot: slots(CONNECTIONS), defer: () => {}, stats: { r2: 0, colo: 0, pointer: 0 } });

describe("objects loaded once", () => {
  it("concurrent misses of one object share one R2 read and one decoded value", async () => {
    await publishBuildDir(FIXTURE_INDEX, "shared", "loads");
    const m = parseManifest(await repoJson(`${FIXTURE_INDEX}/manifest.json`));
    const ref = m.lexical!.buckets[0];
    const cache = createByteCache(8 << 20);
    const requests = [storage(), storage(), storage()];
    const values = await Promise.all(requests.map((s) => cachedObject(s, cache, "shared", "loads", ref, (b) => decodeLexicalBucket(b))));
    expect(requests.reduce((n, s) => n + s.stats.r2, 0)).toBe(1);
    expect(values[1]).toBe(values[0]);
    expect(values[2]).toBe(values[0]);
    const later = storage();
    expect(await cachedObject(later, cache, "shared", "loads", ref, (b) => decodeLexicalBucket(b))).toBe(values[0]);
    expect(later.stats.r2).toBe(0);
  });

  it("runs a shared load under the waitUntil of the request that began it; one unsettled past INFLIGHT_STALE_MS is begun again", async () => {
    const cache = createByteCache(1 << 20);
    const deferred: Array<Promise<unknown>> = [];
    const s = { defer: (p: Promise<unknown>) => void deferred.push(p) };
    let loads = 0;
    const never = () => (loads++, new Promise<number>(() => {}));
    void cachedLoad(cache, "stale-test", s, never);
    void cachedLoad(cache, "stale-test", s, never); // joins the first
    expect(loads).toBe(1);
    expect(deferred).toHaveLength(1);
    const now = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(now + INFLIGHT_STALE_MS);
    try {
      expect(await cachedLoad(cache, "stale-test", s, async () => (loads++, 7))).toBe(7);
      expect(loads).toBe(2);
    } finally {
      clock.mockRestore();
    }
  });
});
