// The query model on the kernels inside workerd: kernels.wasm imported as a module (the worker way) runs the shipped
// int8 query tower to onnxruntime-web's vectors, and a registry given the kernels loads an index's query model on them
// (no onnxruntime session) where they take its graph, and in onnxruntime-web where they do not.
import { describe, expect, it } from "vitest";
import { objectKey } from "../../src/format";
import kernelsModule from "../../src/search/kernels/kernels.wasm";
import { queryModelOf } from "../../src/search/query-model";
import { createTokenizer } from "../../src/text/tokenizer";
import { toInputs } from "../../src/text/tensors";
import { onnxruntimeWeb, createWasmSession, ort, sessionCounts } from "../../src/worker/encoder/ort-web";
import { createRegistry } from "../../src/worker/store/registry";
import { CONNECTIONS, slots, type Storage } from "../../src/worker/store/storage";
import { FIXTURE_INDEX, bucket, fixtureExpectations, publishBuildDir, repoFile, repoJson, search } from "./helpers";
import { publishManifest, withModelObject } from "./variants";

const MB = 1 << 20;
const SHIPPED = "models/i3-scifact/query.int8.onnx";

function storage(): Storage {
  return { bucket, slot: slots(CONNECTIONS), defer: () => {}, stats: { r2: 0, colo: 0, pointer: 0 } };
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

/**
 * The fixture index twice under qmodel/: as built (`onnx`: models/use-lite's fp16 query model, a graph the kernels do
 * not take) and with the shipped int8 query model instead (`kernels`), its other objects the same.
 */
async function publishPair(onnx: string, kernels: string): Promise<void> {
  const { manifest } = await publishBuildDir(FIXTURE_INDEX, "qmodel", onnx);
  await publishManifest("qmodel", kernels, await withModelObject(manifest, "query", await repoFile(SHIPPED), "qmodel", kernels));
  for (const o of manifest.objects) if (o.path !== manifest.model.query.path) await bucket.put(objectKey("qmodel", kernels, o.path), await repoFile(`${FIXTURE_INDEX}/${o.path}`));
}

describe("the query model on the kernels in workerd", () => {
  it("gives onnxruntime-web's vectors of the shipped model: over half within 1e-5, every one within cosine 0.998", async () => {
    const bytes = await repoFile(SHIPPED);
    const model = queryModelOf(bytes, kernelsModule, 32);
    if ("reason" in model) throw new Error(model.reason);
    const session = await createWasmSession(bytes, "optimized");
    const tokenizer = createTokenizer(await repoJson("models/i3-scifact/vocab.json"));
    const { queries } = await fixtureExpectations();
    let close = 0;
    for (const q of queries) {
      const ids = tokenizer.encode(q.text).slice(0, 32);
      const { inputIds, attentionMask, dims } = toInputs([ids], 32);
      const out = await session.run({ input_ids: new ort.Tensor("int64", inputIds, dims), attention_mask: new ort.Tensor("int64", attentionMask, dims) });
      const want = out.embedding.data as Float32Array;
      const got = model.encode(ids);
      expect(dot(got, want), q.text).toBeGreaterThanOrEqual(0.998);
      if (got.every((x, d) => Math.abs(x - want[d]) <= 1e-5)) close++;
    }
    // the fixture's queries are long claims: more values a last-bit difference can move one quantization step (19 of 30)
    expect(close / queries.length).toBeGreaterThanOrEqual(0.5);
    await session.release();
  });

  it("is what a registry with the kernels loads for the shipped model, with no onnxruntime session; other graphs get one", async () => {
    await publishPair("onnx", "kernels"); // models/use-lite: a graph the kernels do not take
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB, kernels: kernelsModule });
    const s = storage();

    const sessions = sessionCounts.created;
    const k = await reg.get(s, "qmodel", "kernels");
    expect(k.modelEngine()).toBeUndefined();
    const e = await (await k.encoder(s)).encode("vitamin D deficiency and bone density");
    expect([e.from, e.vector.length, k.modelEngine()]).toEqual(["model", 512, "kernels"]);
    expect(dot(e.vector, e.vector)).toBeCloseTo(1, 5);
    expect(sessionCounts.created).toBe(sessions);

    const o = await reg.get(s, "qmodel", "onnx");
    await (await o.encoder(s)).encode("vitamin D deficiency and bone density");
    expect(o.modelEngine()).toBe("onnxruntime");
    expect(sessionCounts.created).toBe(sessions + 1);
    // the kernels' model is counted at what it holds (its kernel memory and embeddings), under the session's 2x model bytes
    expect(reg.cache.bytes).toBeLessThanOrEqual(reg.cache.budget);
  });

  it("a warm isolate asks the colo for a query's vector only where onnxruntime runs its model; both put theirs there", async () => {
    await publishPair("warm-onnx", "warm-kernels");
    /** A storage whose colo cache counts its reads of query vectors, with what it defers kept to wait for. */
    const counted = () => {
      const pending: Promise<unknown>[] = [];
      const reads = { n: 0 };
      const colo = new Proxy(caches.default, {
        get: (t, p) => (p === "match" ? (...a: Parameters<Cache["match"]>) => (String(a[0]).includes("/qvec/") && reads.n++, t.match(...a)) : (Reflect.get(t, p, t) as Function).bind(t)),
      });
      const s: Storage = { ...storage(), colo, defer: (p) => void pending.push(p) };
      return { s, reads, settle: () => Promise.all(pending) };
    };
    const text = `bone density and vitamin D ${Date.now()}`; // a query no other test encoded
    for (const [index, engine, from] of [["warm-kernels", "kernels", "model"], ["warm-onnx", "onnxruntime", "colo"]] as const) {
      // One isolate encodes the query (its vector goes to the colo after the answer); another, warm (its model
      // loaded), is asked the same query.
      const a = counted();
      const first = await (await createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB, kernels: kernelsModule }).get(a.s, "qmodel", index)).encoder(a.s);
      expect((await first.encode(text, a.s)).from).toBe("model");
      expect(a.reads.n, index).toBe(engine === "kernels" ? 0 : 1); // asked the colo first only in onnxruntime
      await a.settle();
      // It put its vector there: a new isolate (no model loaded) takes it.
      const fresh = counted();
      const cold = await createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB, kernels: kernelsModule }).get(fresh.s, "qmodel", index);
      expect((await cold.cachedVector(fresh.s, text))?.from, index).toBe("colo");
      const b = counted();
      const idx = await createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB, kernels: kernelsModule }).get(b.s, "qmodel", index);
      const warm = await idx.encoder(b.s);
      const before = b.reads.n;
      const e = await warm.encode(text, b.s);
      expect([idx.modelEngine(), e.from, b.reads.n - before], index).toEqual([engine, from, from === "colo" ? 1 : 0]);
    }
  });

  it("without onnxruntime (the lite worker) runs the shipped model on the kernels, and takes out an index whose model they do not take (503)", async () => {
    await publishPair("lite-onnx", "lite-kernels"); // models/use-lite: fp16, not the kernels'
    const reg = createRegistry({ pointerTtlMs: 60_000, cacheBudgetBytes: 64 * MB, kernels: kernelsModule });
    const s = storage();
    const sessions = sessionCounts.created;
    const k = await reg.get(s, "qmodel", "lite-kernels");
    const e = await (await k.encoder(s)).encode("vitamin D deficiency and bone density");
    expect([e.from, e.vector.length, k.modelEngine()]).toEqual(["model", 512, "kernels"]);
    const o = await reg.get(s, "qmodel", "lite-onnx"); // serves what needs no model
    const err = await o.ensureModel(s).then(() => null, (x) => x);
    expect([err?.status, err?.code]).toEqual([503, "index_unavailable"]);
    expect(await reg.get(s, "qmodel", "lite-onnx").then(() => "served", (x) => x.code)).toBe("index_unavailable");
    expect(sessionCounts.created).toBe(sessions); // no onnxruntime session anywhere
  });

  it("answers 503 index_unavailable for a query whose token ids the model has no embedding for (a vocab that is not the model's)", async () => {
    const { manifest } = await publishBuildDir(FIXTURE_INDEX, "qmodel", "wide-vocab");
    const vocab = await repoJson("models/i3-scifact/vocab.json");
    // three pieces past the model's 8002 embeddings: the last, "▁zzzq", gets id 8002
    const wide = new TextEncoder().encode(JSON.stringify([...vocab, ["▁qqqa", -20], ["▁qqqb", -20], ["▁zzzq", -1]]));
    let m = await withModelObject(manifest, "query", await repoFile(SHIPPED), "qmodel", "wide-vocab");
    m = await withModelObject(m, "vocab", wide, "qmodel", "wide-vocab");
    await publishManifest("qmodel", "wide-vocab", m);
    const ok = await search("qmodel", "wide-vocab", { query: "vitamin D deficiency", k: 3 });
    expect(ok.status).toBe(200);
    const bad = await search("qmodel", "wide-vocab", { query: "vitamin zzzq", k: 3 });
    expect([bad.status, bad.body.error.code]).toEqual([503, "index_unavailable"]);
  });
});
