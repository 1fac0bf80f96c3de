import { beforeAll, describe, expect, it } from "vitest";
import { createQueryEncoder } from "../../src/worker/encoder/query-encoder";
import { createWasmSession, ortRunner } from "../../src/worker/encoder/ort-web";
import { objectKey, sha256Hex } from "../../src/format";
import { createTokenizer } from "../../src/text/tokenizer";
import { FIXTURE_INDEX, fixtureExpectations, type FixtureExpectations, bucket, publishBuildDir, putManifestAndPointer, repoFile, repoJson, search } from "./helpers";

let expected: FixtureExpectations;
let published: { version: string; manifest: any };

beforeAll(async () => {
  expected = await fixtureExpectations();
  published = await publishBuildDir(FIXTURE_INDEX, "fixture", "mini");
});

describe("search through the worker (workerd + R2 simulator)", () => {
  it("returns k documents with id, score, title, text and timing", async () => {
    const { status, body } = await search("fixture", "mini", { query: expected.queries[0].text, k: 10 });
    expect(status).toBe(200);
    expect(body.version).toBe(published.version);
    expect(body.results).toHaveLength(10);
    for (const r of body.results) {
      expect(typeof r.id).toBe("string");
      expect(typeof r.title).toBe("string");
      expect(r.text.length).toBeGreaterThan(0);
    }
    const scores = body.results.map((r: any) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(body.timing).toMatchObject({ totalMs: expect.any(Number), encodeMs: expect.any(Number) });
    expect(body.query).toEqual({ tokens: expect.any(Number), truncated: false, encoder: "model", encoded: expect.stringMatching(/^(model|isolate|colo)$/) });
  });

  it("agrees with exact float32 search offline: recall@10 >= 0.98 over the fixture queries", async () => {
    let hits = 0, total = 0;
    for (const q of expected.queries) {
      const { status, body } = await search("fixture", "mini", { query: q.text, k: 10 });
      expect(status).toBe(200);
      const want = new Set(expected.exactTop10[q.id]);
      hits += body.results.filter((r: any) => want.has(r.id)).length;
      total += want.size;
    }
    expect(hits / total).toBeGreaterThanOrEqual(0.98);
  });

  it("encodes a query to the same vector as onnxruntime-node (cosine >= 0.9999)", async () => {
    const m = published.manifest.model;
    const model = await repoFile(`${FIXTURE_INDEX}/${m.query.path}`);
    const vocab = await repoJson(`${FIXTURE_INDEX}/${m.vocab.path}`);
    const encoder = createQueryEncoder(ortRunner(await createWasmSession(model), published.manifest.vectors.dim, m.maxQueryTokens), createTokenizer(vocab), {
      maxTokens: m.maxQueryTokens, dim: published.manifest.vectors.dim, modelSha256: m.query.sha256, vocabSha256: m.vocab.sha256,
    });
    for (let i = 0; i < expected.queries.length; i++) {
      const { vector } = await encoder.encode(expected.queries[i].text);
      const want = expected.vectors[i];
      let dot = 0, a = 0, b = 0;
      for (let d = 0; d < want.length; d++) { dot += vector[d] * want[d]; a += vector[d] ** 2; b += want[d] ** 2; }
      expect(dot / Math.sqrt(a * b)).toBeGreaterThanOrEqual(0.9999);
    }
  });

  it("runs a graph optimized at export (manifest model.graph) unoptimized, to the vectors onnxruntime's own optimization gives", async () => {
    const sidecar = await repoJson("models/i3-scifact/model.json");
    expect(sidecar.edgeQueryGraph).toBe("optimized"); // offline/train/export.py optimize
    const model = await repoFile(`models/i3-scifact/${sidecar.edgeQuery}`);
    const tokenizer = createTokenizer(await repoJson(`models/i3-scifact/${sidecar.vocab}`));
    const opts = { maxTokens: sidecar.maxQueryTokens, dim: sidecar.dim, modelSha256: "x", vocabSha256: "y" };
    const asIs = createQueryEncoder(ortRunner(await createWasmSession(model, "optimized"), opts.dim, opts.maxTokens), tokenizer, opts);
    const optimizedAgain = createQueryEncoder(ortRunner(await createWasmSession(model), opts.dim, opts.maxTokens), tokenizer, opts);
    for (const q of expected.queries.slice(0, 8)) {
      const [a, b] = [(await asIs.encode(q.text)).vector, (await optimizedAgain.encode(q.text)).vector];
      expect(Array.from(a)).toEqual(Array.from(b));
    }
    asIs.dispose();
    optimizedAgain.dispose();
  });

  it("returns fewer than k only when the index has fewer documents, and respects k", async () => {
    const { body } = await search("fixture", "mini", { query: "cancer", k: 3 });
    expect(body.results).toHaveLength(3);
    const all = await search("fixture", "mini", { query: "cancer", k: 100 });
    expect(all.body.results).toHaveLength(100);
  });

  it("answers queries in any script, and over-long queries are truncated, never an error", async () => {
    for (const query of ["细胞凋亡", "🧬🧪", "Зачем", "the of and", ":", "a ".repeat(500)]) {
      const { status, body } = await search("fixture", "mini", { query, k: 5 });
      expect(status).toBe(200);
      expect(body.results).toHaveLength(5);
    }
    const { body } = await search("fixture", "mini", { query: "word ".repeat(300), k: 1 });
    expect(body.query.truncated).toBe(true);
  });
});

describe("errors", () => {
  it.each([
    ["{not json", 400, "invalid_json"],
    [{}, 400, "missing_query"],
    [{ query: 5 }, 400, "invalid_request"],
    [{ query: "   " }, 400, "empty_query"],
    [{ query: "x".repeat(16_385) }, 400, "query_too_long"],
    [{ query: "x", k: 0 }, 400, "k_out_of_range"],
    [{ query: "x", k: 101 }, 400, "k_out_of_range"],
    [{ query: "x", k: 2.5 }, 400, "k_out_of_range"],
    [[], 400, "invalid_request"],
  ])("%j -> %i %s", async (body, status, code) => {
    const res = await search("fixture", "mini", body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toEqual(expect.any(String));
  });

  it("unknown index -> 404 index_not_found; unknown tenant -> 403 forbidden (test/worker/auth.test.ts); malformed name -> 400", async () => {
    expect((await search("nobody", "mini", { query: "x" })).body.error.code).toBe("forbidden");
    expect((await search("fixture", "nothing", { query: "x" })).status).toBe(404);
    const bad = await search("Fixture", "mini", { query: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_name");
  });
});

describe("publishing while serving", () => {
  /** A manifest like the published one, with one shard replaced by an object whose stored bytes are corrupt. */
  async function corruptManifest(): Promise<Uint8Array> {
    const m = structuredClone(published.manifest);
    const good = await repoFile(`${FIXTURE_INDEX}/${m.partitions[0].shards[0].path}`);
    const variant = new Uint8Array(good.length + 16);
    variant.set(good);
    const sha = await sha256Hex(variant);
    const ref = { ...m.partitions[0].shards[0], path: `objects/${sha}.i3vs`, sha256: sha, bytes: variant.length };
    const oldPath = m.partitions[0].shards[0].path;
    m.partitions[0].shards[0] = ref;
    m.objects = m.objects.map((o: any) => (o.path === oldPath ? ref : o));
    const corrupt = variant.slice();
    corrupt[100] ^= 0xff;
    return { bytes: new TextEncoder().encode(JSON.stringify(m)), corrupt, ref } as any;
  }

  it("picks up a new version, and keeps serving the last good one when a new version is corrupt", async () => {
    // v2: same objects, a different manifest (a new version id).
    const m2 = { ...published.manifest, id: "mini-v2" };
    const v2 = await putManifestAndPointer("fixture", "mini", new TextEncoder().encode(JSON.stringify(m2)));
    const r2 = await search("fixture", "mini", { query: "cancer", k: 3 });
    expect(r2.status).toBe(200);
    expect(r2.body.version).toBe(v2);

    // v3: one shard corrupt in R2 -> the worker logs it and keeps answering from v2.
    const { bytes, corrupt, ref } = (await corruptManifest()) as any;
    await bucket.put(objectKey("fixture", "mini", ref.path), corrupt);
    const v3 = await putManifestAndPointer("fixture", "mini", bytes);
    expect(v3).not.toBe(v2);
    const r3 = await search("fixture", "mini", { query: "cancer", k: 3 });
    expect(r3.status).toBe(200);
    expect(r3.body.version).toBe(v2);
    expect(r3.body.results.map((r: any) => r.id)).toEqual(r2.body.results.map((r: any) => r.id));
  });

  it("a corrupt index with no good version cached -> 503 index_unavailable", async () => {
    const { bytes, corrupt, ref } = (await corruptManifest()) as any;
    for (const o of published.manifest.objects) {
      await bucket.put(objectKey("fixture", "broken", o.path), await repoFile(`${FIXTURE_INDEX}/${o.path}`));
    }
    await bucket.put(objectKey("fixture", "broken", ref.path), corrupt);
    await putManifestAndPointer("fixture", "broken", bytes);
    const res = await search("fixture", "broken", { query: "cancer" });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("index_unavailable");
    // the detail (object keys, hashes) goes to the log, not to the client
    expect(res.body.error.message).toContain("fixture/broken");
    expect(res.body.error.message).not.toMatch(/objects\/|[0-9a-f]{64}/);
    // again, once the failed version is remembered: still no keys, hashes or version ids
    const again = await search("fixture", "broken", { query: "cancer" });
    expect(again.status).toBe(503);
    expect(again.body.error.message).toContain("fixture/broken");
    expect(again.body.error.message).not.toMatch(/objects\/|tenants\/|[0-9a-f]{16}/);
  });
});
