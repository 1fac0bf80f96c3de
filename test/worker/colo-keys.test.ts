// Key records shared through the colo cache (src/worker/auth/key-cache.ts): a new isolate in a warm colo checks a key
// without an R2 read, a copy is used only while under the TTL from its R2 read (so a revoke shows within the TTL, as
// with each isolate reading R2 itself), and unknown ids are never shared. Two key caches stand for two isolates; they
// share the test runtime's colo cache (caches.default).
import { describe, expect, it } from "vitest";
import { createKeyCache, keyRecordKey, parseApiKey, parseKeyRecord } from "../../src/worker/auth";
import { bucket, createKey } from "./helpers";

/** The R2 simulator's bucket, counting the reads of each key. */
function counting(reads: string[]): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof v === "function" ? v.bind(target) : v;
      return (key: string, o?: R2GetOptions) => (reads.push(key), target.get(key, o));
    },
  });
}

function colo() {
  const deferred: Array<Promise<unknown>> = [];
  return { share: { cache: caches.default, defer: (p: Promise<unknown>) => void deferred.push(p) }, settle: () => Promise.all(deferred) };
}

describe("key records through the colo cache", () => {
  it("a second isolate checks the key with no R2 read while the first's read is under the TTL; then reads R2 again", async () => {
    const key = await createKey("colokeys");
    const { keyId } = parseApiKey(key)!;
    let t = 5_000_000;
    const ttl = 30_000;
    const reads: string[] = [];
    const first = colo();
    const a = createKeyCache({ ttlMs: ttl, now: () => t });
    expect((await a.get(counting(reads), "colokeys", keyId, first.share))?.id).toBe(keyId);
    expect(reads).toEqual([keyRecordKey("colokeys", keyId)]);
    await first.settle();

    t += ttl - 1;
    const b = createKeyCache({ ttlMs: ttl, now: () => t }); // a new isolate, just under the TTL after the R2 read
    expect((await b.get(counting(reads), "colokeys", keyId, colo().share))?.id).toBe(keyId);
    expect(reads).toHaveLength(1);
    t += 1; // the copy's TTL is over for it too: it reads R2 (not its own cache, which took the copy's age)
    expect((await b.get(counting(reads), "colokeys", keyId, colo().share))?.id).toBe(keyId);
    expect(reads).toHaveLength(2);
  });

  it("a revoke shows within the TTL of the copy's R2 read, in a new isolate too", async () => {
    const key = await createKey("colorevoke");
    const { keyId } = parseApiKey(key)!;
    let t = 9_000_000;
    const ttl = 30_000;
    const first = colo();
    await createKeyCache({ ttlMs: ttl, now: () => t }).get(bucket, "colorevoke", keyId, first.share);
    await first.settle();
    const rec = parseKeyRecord(await (await bucket.get(keyRecordKey("colorevoke", keyId)))!.json());
    await bucket.put(keyRecordKey("colorevoke", keyId), JSON.stringify({ ...rec, revokedAt: new Date().toISOString() }));
    t += ttl; // the copy is TTL old: a new isolate reads R2 and sees the revoke
    const fresh = await createKeyCache({ ttlMs: ttl, now: () => t }).get(bucket, "colorevoke", keyId, colo().share);
    expect(fresh?.revokedAt).toBeTruthy();
  });

  it("never shares an unknown id: each isolate asks R2", async () => {
    const reads: string[] = [];
    const first = colo();
    expect(await createKeyCache({ ttlMs: 30_000 }).get(counting(reads), "colokeys", "0123456789abcdef", first.share)).toBeNull();
    await first.settle();
    expect(await createKeyCache({ ttlMs: 30_000 }).get(counting(reads), "colokeys", "0123456789abcdef", colo().share)).toBeNull();
    expect(reads).toHaveLength(2);
  });
});
