// Key records shared through the colo cache (src/worker/auth/key-cache.ts), sealed with the deployment's
// COLO_SHARE_SECRET (colo-seal.ts): a new isolate in a warm colo checks a key without an R2 read; a copy is used only
// while under the TTL from its R2 read (so a revoke shows within the TTL, as with each isolate reading R2 itself);
// unknown ids are never shared; and a copy another deployment put (another secret), or one altered in the cache, is
// never taken. Two key caches stand for two isolates; they share the test runtime's colo cache (caches.default).
import { describe, expect, it } from "vitest";
import { coloSeal, createKeyCache, keyRecordKey, parseApiKey, parseKeyRecord } from "../../src/worker/auth";
import { coloKey } from "../../src/worker/store/storage";
import { bucket, createKey } from "./helpers";

const SECRET = "test-deployment-secret-0123456789abcdef";

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

async function colo(secret = SECRET) {
  const deferred: Array<Promise<unknown>> = [];
  const seal = await coloSeal(secret);
  return { share: { cache: caches.default, defer: (p: Promise<unknown>) => void deferred.push(p), seal }, settle: () => Promise.all(deferred) };
}

describe("key records through the colo cache", () => {
  it("a second isolate checks the key with no R2 read while the first's read is under the TTL; then reads R2 again", async () => {
    const key = await createKey("colokeys");
    const { keyId } = parseApiKey(key)!;
    let t = 5_000_000;
    const ttl = 30_000;
    const reads: string[] = [];
    const first = await colo();
    const a = createKeyCache({ ttlMs: ttl, now: () => t });
    expect((await a.get(counting(reads), "colokeys", keyId, undefined, first.share))?.id).toBe(keyId);
    expect(reads).toEqual([keyRecordKey("colokeys", keyId)]);
    await first.settle();

    t += ttl - 1;
    const b = createKeyCache({ ttlMs: ttl, now: () => t }); // a new isolate, just under the TTL after the R2 read
    expect((await b.get(counting(reads), "colokeys", keyId, undefined, (await colo()).share))?.id).toBe(keyId);
    expect(reads).toHaveLength(1);
    t += 1; // the copy's TTL is over for it too: it reads R2 (not its own cache, which took the copy's age)
    expect((await b.get(counting(reads), "colokeys", keyId, undefined, (await colo()).share))?.id).toBe(keyId);
    expect(reads).toHaveLength(2);
  });

  it("a revoke shows within the TTL of the copy's R2 read, in a new isolate too", async () => {
    const key = await createKey("colorevoke");
    const { keyId } = parseApiKey(key)!;
    let t = 9_000_000;
    const ttl = 30_000;
    const first = await colo();
    await createKeyCache({ ttlMs: ttl, now: () => t }).get(bucket, "colorevoke", keyId, undefined, first.share);
    await first.settle();
    const rec = parseKeyRecord(await (await bucket.get(keyRecordKey("colorevoke", keyId)))!.json());
    await bucket.put(keyRecordKey("colorevoke", keyId), JSON.stringify({ ...rec, revokedAt: new Date().toISOString() }));
    t += ttl; // the copy is TTL old: a new isolate reads R2 and sees the revoke
    const fresh = await createKeyCache({ ttlMs: ttl, now: () => t }).get(bucket, "colorevoke", keyId, undefined, (await colo()).share);
    expect(fresh?.revokedAt).toBeTruthy();
  });

  it("never shares an unknown id: each isolate asks R2", async () => {
    const reads: string[] = [];
    const first = await colo();
    expect(await createKeyCache({ ttlMs: 30_000 }).get(counting(reads), "colokeys", "0123456789abcdef", undefined, first.share)).toBeNull();
    await first.settle();
    expect(await createKeyCache({ ttlMs: 30_000 }).get(counting(reads), "colokeys", "0123456789abcdef", undefined, (await colo()).share)).toBeNull();
    expect(reads).toHaveLength(2);
  });

  it("never takes another deployment's copy (another secret), nor one altered in the cache: it reads R2", async () => {
    const key = await createKey("colosealed");
    const { keyId } = parseApiKey(key)!;
    const t = 12_000_000;
    const reads: string[] = [];
    const staging = await colo("staging-deployment-secret-0123456789abcdef");
    await createKeyCache({ ttlMs: 30_000, now: () => t }).get(bucket, "colosealed", keyId, undefined, staging.share);
    await staging.settle();
    // Production (SECRET) reads R2: the staging copy lives under staging's namespace, and were it under production's,
    // its seal would not verify.
    const prod = await colo();
    expect(prod.share.seal.namespace).not.toBe(staging.share.seal.namespace);
    const url = (ns: string) => coloKey(`keys/${ns}/${keyRecordKey("colosealed", keyId)}`);
    const copy = await caches.default.match(url(staging.share.seal.namespace));
    expect(copy).toBeTruthy();
    const text = await copy!.text();
    const plant = (body: string, seal: string) =>
      caches.default.put(url(prod.share.seal.namespace), new Response(body, { headers: { "cache-control": "public, max-age=30", "x-i3-seal": seal } }));
    await plant(text, copy!.headers.get("x-i3-seal")!);
    expect((await createKeyCache({ ttlMs: 30_000, now: () => t }).get(counting(reads), "colosealed", keyId, undefined, prod.share))?.id).toBe(keyId);
    expect(reads).toHaveLength(1);
    // A copy sealed by production whose record was then altered (roles widened): refused, R2 read.
    const entry = JSON.parse(text);
    await plant(JSON.stringify({ ...entry, record: { ...entry.record, roles: ["admin"] } }), await prod.share.seal.seal(text));
    const got = await createKeyCache({ ttlMs: 30_000, now: () => t }).get(counting(reads), "colosealed", keyId, undefined, prod.share);
    expect(reads).toHaveLength(2);
    expect(got?.roles).toEqual(entry.record.roles);
    // Production's own sealed copy is taken: no R2 read.
    await plant(text, await prod.share.seal.seal(text));
    expect((await createKeyCache({ ttlMs: 30_000, now: () => t }).get(counting(reads), "colosealed", keyId, undefined, prod.share))?.id).toBe(keyId);
    expect(reads).toHaveLength(2);
    // Sealed by production but read in the future (a copy that would outlive its TTL): refused, R2 read.
    const future = JSON.stringify({ ...entry, readAt: t + 5_000 });
    await plant(future, await prod.share.seal.seal(future));
    await createKeyCache({ ttlMs: 30_000, now: () => t }).get(counting(reads), "colosealed", keyId, undefined, prod.share);
    expect(reads).toHaveLength(3);
  });

  it("never takes one key's sealed copy for another key's id", async () => {
    const a = parseApiKey(await createKey("colocross"))!.keyId;
    const b = parseApiKey(await createKey("colocross"))!.keyId;
    const t = 15_000_000;
    const share = await colo();
    await createKeyCache({ ttlMs: 30_000, now: () => t }).get(bucket, "colocross", a, undefined, share.share);
    await share.settle();
    const url = (id: string) => coloKey(`keys/${share.share.seal.namespace}/${keyRecordKey("colocross", id)}`);
    const copyOfA = (await caches.default.match(url(a)))!;
    const seal = copyOfA.headers.get("x-i3-seal")!;
    await caches.default.put(url(b), new Response(await copyOfA.text(), { headers: { "cache-control": "public, max-age=30", "x-i3-seal": seal } }));
    const reads: string[] = [];
    expect((await createKeyCache({ ttlMs: 30_000, now: () => t }).get(counting(reads), "colocross", b, undefined, share.share))?.id).toBe(b);
    expect(reads).toEqual([keyRecordKey("colocross", b)]);
  });
});
