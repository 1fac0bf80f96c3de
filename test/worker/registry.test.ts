// The index registry (src/worker/store/registry.ts) over the R2 simulator, seen through a bucket that counts every
// read by key and fails chosen ones with an R2 error, on a clock the test moves: what a failed load costs, when it is
// tried again, what is kept, what is bounded. The same through the routes: test/worker/load-failures.test.ts.
import { describe, expect, it } from "vitest";
import { manifestKey, objectKey, pointerKey } from "../../src/format";
import { onnxruntimeWeb, sessionCounts } from "../../src/worker/encoder/ort-web";
import { ApiError } from "../../src/worker/http-error";
import { BACKOFF } from "../../src/worker/store/load-failure";
import { createRegistry } from "../../src/worker/store/registry";
import { CONNECTIONS, slots, type Storage } from "../../src/worker/store/storage";
import { FIXTURE_INDEX, bucket, publishBuildDir, repoFile } from "./helpers";
import { publishManifest, withModelObject } from "./variants";

/** The R2 simulator with every `get` counted by key, and the keys `failing` matches answered by an R2 error. */
function faultyBucket() {
  const reads = new Map<string, number>();
  let failing: (key: string) => boolean = () => false;
  const b = new Proxy(bucket, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof v === "function" ? v.bind(target) : v;
      return async (key: string, opts?: R2GetOptions) => {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        if (failing(key)) throw new Error(`injected R2 error: get ${key}`);
        return target.get(key, opts);
      };
    },
  });
  return {
    bucket: b,
    /** Reads of keys that contain `part` (a key, a folder, an extension). */
    reads: (part: string) => [...reads].filter(([k]) => k.includes(part)).reduce((n, [, c]) => n + c, 0),
    fail(match: (key: string) => boolean) {
      failing = match;
    },
  };
}

/** A request's storage over `b`, without a colo cache (every object read reaches the bucket); deferred work kept. */
function storage(b: R2Bucket, deferred: Array<Promise<unknown>> = []): Storage {
  return { bucket: b, slot: slots(CONNECTIONS), defer: (p) => deferred.push(p), stats: { r2: 0, colo: 0, pointer: 0 } };
}

/** What `p` rejected with, as { status, code, retryAfter }. */
async function rejection(p: Promise<unknown>) {
  const e = await p.then(() => null, (err) => err);
  expect(e).toBeInstanceOf(ApiError);
  return { status: e.status, code: e.code, retryAfter: Number(e.headers?.["Retry-After"]) };
}

const MB = 1 << 20;
const another = (m: any, id: string) => ({ ...m, id }); // the same objects, a new version

describe("a version that fails to load", () => {
  it("an R2 error: the good version keeps serving; retried after 2 s, 4 s, 8 s, not before; then loaded", async () => {
    const v1 = await publishBuildDir(FIXTURE_INDEX, "reg", "transient");
    const r2 = faultyBucket();
    let t = 0;
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB, now: () => t });
    const get = () => reg.get(storage(r2.bucket), "reg", "transient");
    expect((await get()).version).toBe(v1.version);

    const v2 = await publishManifest("reg", "transient", another(v1.manifest, "v2"));
    const manifest = manifestKey("reg", "transient", v2);
    r2.fail((k) => k === manifest);
    const tries: number[] = [];
    for (const at of [0, 1, 1999, 2000, 2001, 5999, 6000, 13_999, 14_000]) {
      t = at;
      expect((await get()).version).toBe(v1.version); // never the R2 error (a 500 before)
      tries.push(r2.reads(manifest));
    }
    expect(tries).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 4]);
    r2.fail(() => false);
    t = 14_000 + 16_000;
    expect((await get()).version).toBe(v2);
    expect(r2.reads(manifest)).toBe(5);
  });

  it("a checksum mismatch: kept out longer than a transient error (60 s), while the pointer is still read", async () => {
    const v1 = await publishBuildDir(FIXTURE_INDEX, "reg", "corrupt");
    const vocab = await repoFile(`${FIXTURE_INDEX}/${v1.manifest.model.vocab.path}`);
    const other = new Uint8Array([...vocab, 0x0a]); // valid, and another sha256
    const m2 = await withModelObject(v1.manifest, "vocab", other, "reg", "corrupt");
    const key = objectKey("reg", "corrupt", m2.model.vocab.path);
    other[10] ^= 1;
    await bucket.put(key, other); // stored bytes that do not match the manifest's sha256
    const r2 = faultyBucket();
    let t = 0;
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB, now: () => t });
    const get = () => reg.get(storage(r2.bucket), "reg", "corrupt");
    expect((await get()).version).toBe(v1.version);
    await publishManifest("reg", "corrupt", m2);
    for (const at of [0, BACKOFF.transient.firstMs, 30_000, BACKOFF.permanent.firstMs - 1]) {
      t = at;
      expect((await get()).version).toBe(v1.version);
      expect(r2.reads(key)).toBe(1);
    }
    expect(r2.reads(pointerKey("reg", "corrupt"))).toBe(5); // a new pointer would have been seen
    t = BACKOFF.permanent.firstMs;
    expect((await get()).version).toBe(v1.version);
    expect(r2.reads(key)).toBe(2);
  });

  it("an R2 error reading the pointer keeps the cached version; with none, 503 index_unavailable with Retry-After", async () => {
    const v1 = await publishBuildDir(FIXTURE_INDEX, "reg", "pointer");
    const r2 = faultyBucket();
    let t = 0;
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB, now: () => t });
    expect((await reg.get(storage(r2.bucket), "reg", "pointer")).version).toBe(v1.version);
    const pointer = pointerKey("reg", "pointer");
    r2.fail((k) => k === pointer);
    for (const at of [0, 1000, 1999]) {
      t = at;
      expect((await reg.get(storage(r2.bucket), "reg", "pointer")).version).toBe(v1.version);
    }
    expect(r2.reads(pointer)).toBe(2); // the first good read, one failed read; none within the back-off

    const cold = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB, now: () => t });
    expect(await rejection(cold.get(storage(r2.bucket), "reg", "pointer"))).toEqual({ status: 503, code: "index_unavailable", retryAfter: 2 });
    expect(await rejection(cold.get(storage(r2.bucket), "reg", "pointer"))).toMatchObject({ status: 503, code: "index_unavailable" });
    expect(r2.reads(pointer)).toBe(3);
    r2.fail(() => false);
    t += BACKOFF.transient.firstMs;
    expect((await cold.get(storage(r2.bucket), "reg", "pointer")).version).toBe(v1.version);
  });
});

describe("flat indexes and the cache budget", () => {
  it("flat indexes larger than a quarter of the cache are refused (503 index_too_large) before any shard is read", async () => {
    await publishBuildDir(FIXTURE_INDEX, "reg", "large");
    await publishBuildDir(FIXTURE_INDEX, "other", "large");
    const r2 = faultyBucket();
    let t = 0;
    // 1 MB: 512 KB for flat shards and models, a flat index may have 128 KB of shards; the fixture has 171 KB.
    // Two tenants searched in turn never evict each other: neither is loaded.
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: MB, now: () => t });
    for (let i = 0; i < 3; i++) {
      for (const tenant of ["reg", "other"]) {
        expect(await rejection(reg.get(storage(r2.bucket), tenant, "large"))).toEqual({ status: 503, code: "index_too_large", retryAfter: 60 });
      }
    }
    expect(r2.reads(".i3vs")).toBe(0);
    expect(r2.reads(".onnx")).toBe(0);
    expect(r2.reads("/manifests/")).toBe(2); // once each: not again within the back-off
    t = BACKOFF.permanent.firstMs;
    await rejection(reg.get(storage(r2.bucket), "reg", "large"));
    expect(r2.reads("/manifests/")).toBe(3);
  });

  it("two tenants' flat indexes within the limit stay resident together: searching them in turn reads no shard", async () => {
    await publishBuildDir(FIXTURE_INDEX, "reg", "small");
    await publishBuildDir(FIXTURE_INDEX, "other", "small");
    const r2 = faultyBucket();
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB });
    const s = storage(r2.bucket);
    for (const tenant of ["reg", "other"]) await reg.get(s, tenant, "small");
    expect(r2.reads(".i3vs")).toBe(2);
    for (let i = 0; i < 4; i++) {
      for (const tenant of ["reg", "other"]) {
        const vectors = (await reg.get(s, tenant, "small")).open(s).vectors;
        expect(vectors.kind).toBe("flat");
        if (vectors.kind === "flat") expect((await vectors.shards()).length).toBe(1);
      }
    }
    expect(r2.reads(".i3vs")).toBe(2);
  });

  it("an evicted encoder's ONNX session is released; a loaded index keeps none alive and loads it again to encode", async () => {
    const a = await publishBuildDir(FIXTURE_INDEX, "reg", "model-a");
    const vocab = await repoFile(`${FIXTURE_INDEX}/${a.manifest.model.vocab.path}`);
    // The same model with a vocab of other bytes: another encoder (one per model, vocab and window).
    await publishManifest("reg", "model-b", await withModelObject(a.manifest, "vocab", new Uint8Array([...vocab, 0x0a]), "reg", "model-b"));
    for (const o of a.manifest.objects) await bucket.put(objectKey("reg", "model-b", o.path), await repoFile(`${FIXTURE_INDEX}/${o.path}`));
    // 80 MB: 40 MB for models and flat shards, one encoder counts 28 MB (twice its 14 MB model): one fits, not two.
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 80 * MB });
    const s = storage(bucket);
    const before = { ...sessionCounts };
    const live = () => sessionCounts.created - before.created - (sessionCounts.released - before.released);

    const idxA = await reg.get(s, "reg", "model-a");
    const vecA = (await (await idxA.encoder(s)).encode("vitamin D")).vector;
    expect(live()).toBe(1);
    const idxB = await reg.get(s, "reg", "model-b");
    await (await idxB.encoder(s)).encode("vitamin D");
    expect(sessionCounts.created - before.created).toBe(2);
    expect(live()).toBe(1); // A's session went with its encoder, though idxA is still held here
    expect(reg.cache.bytes).toBeLessThanOrEqual(reg.cache.budget);

    const again = await (await idxA.encoder(s)).encode("vitamin D");
    expect(Array.from(again.vector)).toEqual(Array.from(vecA));
    expect(again.from).toBe("model"); // a new session: the evicted encoder (and its memo) is gone
    expect(sessionCounts.created - before.created).toBe(3);
    expect(live()).toBe(1);
  });
});

describe("the tokenizer", () => {
  it("of an index whose encoder was evicted comes without loading its ONNX session again (highlights, the static tier)", async () => {
    const a = await publishBuildDir(FIXTURE_INDEX, "reg", "tok-a");
    const vocab = await repoFile(`${FIXTURE_INDEX}/${a.manifest.model.vocab.path}`);
    await publishManifest("reg", "tok-b", await withModelObject(a.manifest, "vocab", new Uint8Array([...vocab, 0x0a]), "reg", "tok-b"));
    for (const o of a.manifest.objects) await bucket.put(objectKey("reg", "tok-b", o.path), await repoFile(`${FIXTURE_INDEX}/${o.path}`));
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 80 * MB }); // one encoder fits, not two
    const s = storage(bucket);
    const idxA = await reg.get(s, "reg", "tok-a");
    await reg.get(s, "reg", "tok-b"); // B's encoder evicts A's
    const before = sessionCounts.created;
    const tokenizer = await idxA.tokenizer(s);
    expect(tokenizer.encode("vitamin D").length).toBeGreaterThan(0);
    expect(sessionCounts.created).toBe(before); // no session for a tokenizer
    expect(await idxA.tokenizer(s)).toBe(tokenizer); // one per vocab, cached
  });
});

describe("per-isolate state is bounded", () => {
  it("a missing index is looked up once per pointer TTL, and only so many names are remembered", async () => {
    const r2 = faultyBucket();
    let t = 0;
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 10_000, cacheBudgetBytes: 64 * MB, maxIndexes: 2, maxMissing: 3, now: () => t });
    const missing = () => reg.get(storage(r2.bucket), "reg", "nothing");
    for (const at of [0, 1, 9_999]) {
      t = at;
      expect(await rejection(missing())).toMatchObject({ status: 404, code: "index_not_found" });
    }
    expect(r2.reads(pointerKey("reg", "nothing"))).toBe(1);
    t = 10_000;
    await rejection(missing());
    expect(r2.reads(pointerKey("reg", "nothing"))).toBe(2);

    for (let i = 0; i < 20; i++) await rejection(reg.get(storage(r2.bucket), "reg", `none-${i}`));
    expect(reg.sizes()).toEqual({ indexes: 0, missing: 3 });

    for (const name of ["few-a", "few-b", "few-c"]) await publishBuildDir(FIXTURE_INDEX, "reg", name);
    for (const name of ["few-a", "few-b", "few-a", "few-c"]) expect((await reg.get(storage(r2.bucket), "reg", name)).index).toBe(name);
    expect(reg.sizes().indexes).toBe(2);
    const manifestReads = () => r2.reads("/manifests/");
    const n = manifestReads();
    await reg.get(storage(r2.bucket), "reg", "few-a"); // most recently used of the two kept: nothing read
    expect(manifestReads()).toBe(n);
    await reg.get(storage(r2.bucket), "reg", "few-b"); // evicted: loaded again
    expect(manifestReads()).toBeGreaterThan(n);
  });
});
