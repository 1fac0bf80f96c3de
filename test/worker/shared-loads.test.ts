// Concurrent misses of one object share one fetch (src/worker/store/r2.ts cachedObject): the requests of an isolate
// that miss the same BM25 bucket at once read it from R2 once, and all get the same decoded value.
import { describe, expect, it } from "vitest";
import { decodeLexicalBucket, parseManifest } from "../../src/format";
import { createByteCache } from "../../src/worker/store/byte-cache";
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
});
