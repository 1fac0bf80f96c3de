// A new isolate serves an index before its query model is loaded (25 ms on the kernels, 100-200 ms as an onnxruntime-web session; this file loads it in onnxruntime-web): BM25, the static tier
// and query vectors the colo cache holds need no session; "model" waits for it; "auto" takes the static tier instead
// of waiting; a model that fails its first load takes the version out (503 index_unavailable). Registries stand for
// isolates; the model's object is held back by a gate on the R2 simulator (and on the colo cache) until the test opens it.
import { describe, expect, it } from "vitest";
import { searchLexical } from "../../src/search/bm25";
import { encodeQuery } from "../../src/worker/routes/search";
import { queryKey } from "../../src/worker/encoder/query-encoder";
import { coloSeal } from "../../src/worker/store/colo-seal";
import { ApiError } from "../../src/worker/http-error";
import { onnxruntimeWeb } from "../../src/worker/encoder/ort-web";
import { createRegistry } from "../../src/worker/store/registry";
import { CONNECTIONS, slots, type Storage } from "../../src/worker/store/storage";
import { objectKey } from "../../src/format";
import { FIXTURE_INDEX, bucket, publishBuildDir, repoFile } from "./helpers";
import { brokenModelObjects, publishManifest, publishWithStaticTier, withModelObject, withModelObjects } from "./variants";

const MB = 1 << 20;

/** A gate: reads of the query model (`.onnx`) from R2 or the colo cache wait until `open()`. */
function gated() {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const hold = <T extends object>(target: T, method: "get" | "match") =>
    new Proxy(target, {
      get(t, prop) {
        const v = Reflect.get(t, prop, t);
        if (prop !== method) return typeof v === "function" ? v.bind(t) : v;
        return async (key: string | Request, o?: unknown) => {
          if (String(key instanceof Request ? key.url : key).endsWith(".onnx")) await gate;
          return (v as (...a: unknown[]) => unknown).call(t, key, o);
        };
      },
    });
  return { bucket: hold(bucket, "get"), colo: hold(caches.default, "match"), open };
}

/** A request's storage; `settle` waits for its deferred work, and for what that defers in turn. */
function storage(b: R2Bucket, colo?: Cache): Storage & { settle(): Promise<void> } {
  const deferred: Array<Promise<unknown>> = [];
  return {
    bucket: b, slot: slots(CONNECTIONS), colo, defer: (p) => void deferred.push(p), stats: { r2: 0, colo: 0, pointer: 0 },
    settle: async () => {
      while (deferred.length) await Promise.allSettled(deferred.splice(0));
    },
  };
}

const later = () => new Promise((r) => setTimeout(r, 50));

describe("a new isolate and its query model", () => {
  it("serves BM25 and the static tier while the session is made; \"model\" waits for it, \"auto\" does not", async () => {
    await publishWithStaticTier("cold", "serve");
    const g = gated();
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const s = storage(g.bucket);
    const idx = await reg.get(s, "cold", "serve"); // resolves with the model's object still held back
    expect(idx.modelLoaded()).toBe(false);
    const lex = await searchLexical(idx.open(s).lexical!, "vitamin D deficiency", 10);
    expect(lex.hits.length).toBeGreaterThan(0);
    const text = "vitamin D deficiency and bone density in the elderly";
    const st = await encodeQuery(idx, s, reg.cache, text, "static");
    const auto = await encodeQuery(idx, s, reg.cache, text, "auto");
    expect([st.encoder, auto.encoder]).toEqual(["static", "static"]);
    expect(Array.from(auto.vector)).toEqual(Array.from(st.vector));

    let waited = false;
    const model = encodeQuery(idx, s, reg.cache, text, "model").then((e) => ((waited = true), e));
    await later();
    expect(waited).toBe(false); // held: it waits for the session
    g.open();
    const m = await model;
    expect([m.encoder, m.from, idx.modelLoaded()]).toEqual(["model", "model", true]);
    const warm = await encodeQuery(idx, s, reg.cache, text, "auto");
    expect(warm.encoder).toBe("model");
    expect(Array.from(warm.vector)).toEqual(Array.from(m.vector));
    expect(Array.from(m.vector)).not.toEqual(Array.from(st.vector));
    await s.settle();
  });

  it("takes the model's vector of a query another isolate encoded from the colo cache, with no session", async () => {
    await publishWithStaticTier("cold", "colo-vec");
    const text = `osteoporosis screening ${Date.now()}`; // a query no other test encoded
    const a = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const sa = storage(bucket, caches.default);
    const idxA = await a.get(sa, "cold", "colo-vec");
    const encoded = await encodeQuery(idxA, sa, a.cache, text, "model");
    expect(encoded.from).toBe("model");
    await sa.settle(); // its vector is in the colo cache now

    const g = gated();
    const b = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const sb = storage(g.bucket, g.colo);
    const idxB = await b.get(sb, "cold", "colo-vec");
    for (const choice of ["model", "auto"] as const) {
      const e = await encodeQuery(idxB, sb, b.cache, text, choice); // the gate is closed: no session can be made
      expect([e.encoder, e.from], choice).toEqual(["model", "colo"]);
      expect(Array.from(e.vector)).toEqual(Array.from(encoded.vector));
    }
    expect(idxB.modelLoaded()).toBe(false);
    const other = await encodeQuery(idxB, sb, b.cache, `${text} and calcium`, "auto"); // not cached: the static tier
    expect(other.encoder).toBe("static");
    g.open();
    await sb.settle();
  });

  it("\"auto\" on an index without a static tier waits for the model", async () => {
    await publishBuildDir(FIXTURE_INDEX, "cold", "no-static");
    const g = gated();
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const s = storage(g.bucket);
    const idx = await reg.get(s, "cold", "no-static");
    let waited = false;
    const auto = encodeQuery(idx, s, reg.cache, `tendon healing ${Date.now()}`, "auto").then((e) => ((waited = true), e));
    await later();
    expect(waited).toBe(false);
    g.open();
    expect((await auto).encoder).toBe("model");
    await s.settle();
  });

  it("a model that cannot be loaded on a first load: what needs it answers 503 index_unavailable, and the version is taken out", async () => {
    const v = await publishBuildDir(FIXTURE_INDEX, "cold", "broken");
    const [[what, replacements]] = (await brokenModelObjects(v.manifest, FIXTURE_INDEX)).filter(([w]) => w === "model bytes onnxruntime rejects");
    await publishManifest("cold", "broken", await withModelObjects(v.manifest, replacements, "cold", "broken"));
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const s = storage(bucket);
    const idx = await reg.get(s, "cold", "broken");
    const failure = (p: Promise<unknown>) => p.then(() => null, (e) => e);
    for (const e of [await failure(idx.ensureModel(s)), await failure(encodeQuery(idx, s, reg.cache, "vitamin D", "model"))]) {
      expect(e, what).toBeInstanceOf(ApiError);
      expect([e.status, e.code], what).toEqual([503, "index_unavailable"]);
      expect(Number(e.headers?.["Retry-After"]), what).toBeGreaterThanOrEqual(1);
    }
    const next = await failure(reg.get(s, "cold", "broken"));
    expect(next).toBeInstanceOf(ApiError);
    expect([next.status, next.code]).toEqual([503, "index_unavailable"]);
    await s.settle();
  });
});

describe("a first version's query model, failing", () => {
  it("backs off longer each time it is loaded again and its model fails again (60 s, then 120 s)", async () => {
    const v = await publishBuildDir(FIXTURE_INDEX, "cold", "backoff");
    const [[, replacements]] = (await brokenModelObjects(v.manifest, FIXTURE_INDEX)).filter(([w]) => w === "model bytes onnxruntime rejects");
    await publishManifest("cold", "backoff", await withModelObjects(v.manifest, replacements, "cold", "backoff"));
    let t = 0;
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB, now: () => t });
    const s = storage(bucket);
    const retryAfters: number[] = [];
    for (let cycle = 0; cycle < 2; cycle++) {
      const idx = await reg.get(s, "cold", "backoff"); // serves (BM25 needs no model)
      const e = await idx.ensureModel(s).then(() => null, (err) => err);
      expect(e).toBeInstanceOf(ApiError);
      retryAfters.push(Number(e.headers?.["Retry-After"]));
      expect(await reg.get(s, "cold", "backoff").then(() => "served", (err) => err.code)).toBe("index_unavailable");
      t += retryAfters[cycle] * 1000;
    }
    expect(retryAfters).toEqual([60, 120]);
    await s.settle();
  });

  it("a vocab that cannot be read fails the version's load, as before it served (503 with Retry-After)", async () => {
    const v = await publishBuildDir(FIXTURE_INDEX, "cold", "vocab");
    const [[, replacements]] = (await brokenModelObjects(v.manifest, FIXTURE_INDEX)).filter(([w]) => w === "a vocab that is not JSON");
    await publishManifest("cold", "vocab", await withModelObjects(v.manifest, replacements, "cold", "vocab"));
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const s = storage(bucket);
    const e = await reg.get(s, "cold", "vocab").then(() => null, (err) => err);
    expect([e?.status, e?.code]).toEqual([503, "index_unavailable"]);
    expect(Number(e.headers?.["Retry-After"])).toBeGreaterThanOrEqual(1);
  });
});

describe("a first version whose model the isolate held already", () => {
  it("a later reload of the model that fails (after the cache evicted it) is that request's error: the version stays", async () => {
    const a = await publishBuildDir(FIXTURE_INDEX, "held", "a");
    await publishBuildDir(FIXTURE_INDEX, "held", "b"); // the same model and vocab as a: one shared encoder
    const vocab = await repoFile(`${FIXTURE_INDEX}/${a.manifest.model.vocab.path}`);
    await publishManifest("held", "c", await withModelObject(a.manifest, "vocab", new Uint8Array([...vocab, 0x0a]), "held", "c"));
    for (const o of a.manifest.objects) await bucket.put(objectKey("held", "c", o.path), await repoFile(`${FIXTURE_INDEX}/${o.path}`));
    let failing = false;
    const faulty = new Proxy(bucket, {
      get(t, prop) {
        const v = Reflect.get(t, prop, t);
        if (prop !== "get") return typeof v === "function" ? v.bind(t) : v;
        return async (key: string, o?: R2GetOptions) => {
          if (failing && key.startsWith("tenants/held/indexes/b/") && key.endsWith(".onnx")) throw new Error("injected R2 error");
          return t.get(key, o);
        };
      },
    });
    // 80 MB: one encoder (counted 28 MB) fits the 40 MB half, not two.
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 80 * MB });
    const s = storage(faulty);
    await (await reg.get(s, "held", "a")).ensureModel(s);
    const b = await reg.get(s, "held", "b");
    expect(b.modelLoaded()).toBe(true); // a's session serves b: b's model has loaded
    await (await reg.get(s, "held", "c")).ensureModel(s); // another vocab: another encoder, which evicts the first
    expect(b.modelLoaded()).toBe(false);
    failing = true;
    const e = await b.ensureModel(s).then(() => null, (err) => err);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(ApiError); // not the version's failure: R2's, for this request
    expect((await reg.get(s, "held", "b")).version).toBe(b.version);
    failing = false;
    await s.settle();
  });
});

describe("the query model after the answer", () => {
  it("a request answered without the model (the static tier) leaves its load for after the answer", async () => {
    await publishWithStaticTier("cold", "later");
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const s = storage(bucket);
    const idx = await reg.get(s, "cold", "later");
    const later: Array<() => Promise<unknown>> = [];
    const e = await encodeQuery(idx, s, reg.cache, `ankle sprain ${Date.now()}`, "auto", later);
    expect([e.encoder, later.length, idx.modelLoaded()]).toEqual(["static", 1, false]);
    await Promise.all(later.map((w) => w()));
    expect(idx.modelLoaded()).toBe(true);
    expect((await encodeQuery(idx, s, reg.cache, `ankle sprain ${Date.now()}`, "auto")).encoder).toBe("model");
    await s.settle();
  });
});

describe("query vectors through the colo cache, sealed with COLO_SHARE_SECRET", () => {
  it("takes only a vector this deployment sealed; an unsealed one, or one another secret sealed, is computed again", async () => {
    await publishWithStaticTier("cold", "sealed-vec");
    const text = `meniscus tear ${Date.now()}`;
    const secret = <S extends Storage>(s: S, v: string) => Object.assign(s, { coloSecret: v });
    // Isolate A of deployment "prod" runs the model: its vector goes to the colo sealed, under prod's namespace.
    const a = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const sa = secret(storage(bucket, caches.default), "prod-secret-0123456789abcdef0123456789");
    const idxA = await a.get(sa, "cold", "sealed-vec");
    const made = await encodeQuery(idxA, sa, a.cache, text, "model");
    expect(made.from).toBe("model");
    await sa.settle();
    // Another deployment (another secret), and one without a secret: neither finds it; each computes its own.
    for (const other of ["staging-secret-0123456789abcdef0123456", undefined]) {
      const b = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
      const sb = storage(bucket, caches.default);
      if (other) secret(sb, other);
      const idxB = await b.get(sb, "cold", "sealed-vec");
      expect(await idxB.cachedVector(sb, text), String(other)).toBeNull();
      await sb.settle();
    }
    // Prod's next isolate takes it without a session.
    const c = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const sc = secret(storage(bucket, caches.default), "prod-secret-0123456789abcdef0123456789");
    const idxC = await c.get(sc, "cold", "sealed-vec");
    const got = await idxC.cachedVector(sc, text);
    expect(got?.from).toBe("colo");
    expect(Array.from(got!.vector)).toEqual(Array.from(made.vector));
    // The same bytes at the same place without their seal (as a Worker without the secret would put them): refused.
    const m = idxC.manifest.model;
    const { key } = queryKey(await idxC.tokenizer(sc), text, m.maxQueryTokens);
    const url = `https://i3-edge.cache/qvec/${(await coloSeal("prod-secret-0123456789abcdef0123456789")).namespace}/${m.query.sha256}/${m.vocab.sha256}/${m.maxQueryTokens}/${key}`;
    const sealed = await caches.default.match(url);
    expect(sealed?.headers.get("x-i3-seal")).toMatch(/^[0-9a-f]{64}$/);
    await caches.default.put(url, new Response(await sealed!.arrayBuffer(), { headers: { "cache-control": "public, max-age=3600" } }));
    const d = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB });
    const sd = secret(storage(bucket, caches.default), "prod-secret-0123456789abcdef0123456789");
    expect(await (await d.get(sd, "cold", "sealed-vec")).cachedVector(sd, text)).toBeNull();
  });
});
