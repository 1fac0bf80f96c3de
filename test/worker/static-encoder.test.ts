// The static query tier through the worker: `"encoder": "static"` searches with the index's static model and says
// so, the same ranking as `i3 eval --encoder static` over the same index; the index's default encoder applies when a
// request names none; an index without a static tier answers a coded 400.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { objectKey, sha256Hex } from "../../src/format";
import { createApp } from "../../src/worker/app";
import type { Env } from "../../src/worker/env";
import { createRegistry } from "../../src/worker/store/registry";
import { FIXTURE_INDEX, bucket, createKey, fixtureExpectations, publishBuildDir, putManifestAndPointer, repoFile, repoJson, search, type FixtureExpectations } from "./helpers";

const STATIC_MODEL = "models/i3-scifact/query.static.i3sq";
let expected: FixtureExpectations;
let staticTop10: Record<string, string[]>;

/** Publishes the fixture index under `index` with the static model added to its manifest (and `defaultEncoder`). */
async function publishWithStatic(index: string, defaultEncoder?: "model" | "static"): Promise<void> {
  const { manifest } = await publishBuildDir(FIXTURE_INDEX, "static", index);
  const bytes = await repoFile(STATIC_MODEL);
  const sha256 = await sha256Hex(bytes);
  const ref = { path: `objects/${sha256}.i3sq`, kind: "static", bytes: bytes.byteLength, sha256 };
  await bucket.put(objectKey("static", index, ref.path), bytes);
  manifest.version.minor = Math.max(manifest.version.minor, 1);
  manifest.model.static = ref;
  if (defaultEncoder) manifest.model.defaultEncoder = defaultEncoder;
  manifest.objects.push(ref);
  await putManifestAndPointer("static", index, new TextEncoder().encode(JSON.stringify(manifest)));
}

beforeAll(async () => {
  expected = await fixtureExpectations();
  staticTop10 = (await repoJson("test/.cache/mini-static.json")).top10;
  await publishBuildDir(FIXTURE_INDEX, "static", "none");
  await publishWithStatic("with-static");
  await publishWithStatic("static-default", "static");
}, 120_000);

describe("the static query tier", () => {
  it("\"encoder\": \"static\" ranks as i3 eval --encoder static does, and says it ran", async () => {
    expect(Object.keys(staticTop10).length).toBe(expected.queries.length);
    for (const q of expected.queries) {
      const { status, body } = await search("static", "with-static", { query: q.text, k: 10, mode: "dense", encoder: "static" });
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.query.encoder).toBe("static");
      expect(body.query.encoded).toBeUndefined();
      expect(body.query.tokens).toBeGreaterThan(0);
      expect(body.results.map((r: any) => r.id)).toEqual(staticTop10[q.id]);
    }
  }, 120_000);

  it("the query model stays the default, says so, and ranks otherwise than the static tier", async () => {
    let differ = 0;
    for (const q of expected.queries.slice(0, 5)) {
      const { status, body } = await search("static", "with-static", { query: q.text, k: 10, mode: "dense" });
      expect(status).toBe(200);
      expect(body.query.encoder).toBe("model");
      expect(["model", "isolate", "colo"]).toContain(body.query.encoded);
      if (JSON.stringify(body.results.map((r: any) => r.id)) !== JSON.stringify(staticTop10[q.id])) differ++;
    }
    expect(differ).toBeGreaterThan(0);
  });

  it("an index whose default encoder is static runs it when the request names none; \"model\" overrides it", async () => {
    const q = expected.queries[1];
    const dflt = await search("static", "static-default", { query: q.text, k: 10, mode: "dense" });
    expect(dflt.status).toBe(200);
    expect(dflt.body.query.encoder).toBe("static");
    expect(dflt.body.results.map((r: any) => r.id)).toEqual(staticTop10[q.id]);
    const model = await search("static", "static-default", { query: q.text, k: 10, mode: "dense", encoder: "model" });
    expect(model.body.query.encoder).toBe("model");
  });

  it("an index without a static tier answers \"encoder\": \"static\" with 400 encoder_unavailable", async () => {
    const { status, body } = await search("static", "none", { query: "vitamin D", k: 10, encoder: "static" });
    expect(status).toBe(400);
    expect(body.error.code).toBe("encoder_unavailable");
    expect(body.error.message).toContain("static/none");
    const ok = await search("static", "none", { query: "vitamin D", k: 10 });
    expect(ok.status).toBe(200);
    expect(ok.body.query.encoder).toBe("model");
  });

  it("an encoder name it does not know is 400 invalid_request", async () => {
    const { status, body } = await search("static", "with-static", { query: "vitamin D", k: 10, encoder: "bigram" });
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toContain("\"encoder\" must be \"model\" or \"static\"");
  });

  /** The worker over a registry of its own: an isolate that has loaded no query model yet. */
  function coldIsolate(key: string) {
    const registry = createRegistry({ pointerTtlMs: 60_000, cacheBudgetBytes: 64 << 20 });
    const app = createApp(() => registry);
    const waits: Array<Promise<unknown>> = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => void waits.push(p), passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
    const ask = async (body: object) => {
      const res = await app.fetch(new Request("http://worker/v1/tenants/static/indexes/with-static/search", {
        method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body),
      }), env as unknown as Env, ctx);
      return { status: res.status, body: (await res.json()) as any };
    };
    return { ask, settle: () => Promise.all(waits.splice(0)) };
  }

  it("a cold isolate answers with the static tier while its query model loads, then with the model", async () => {
    const w = coldIsolate(await createKey("static"));
    const q = expected.queries[2];
    const cold = await w.ask({ query: q.text, k: 10, mode: "dense" });
    expect(cold.status).toBe(200);
    expect(cold.body.query.encoder).toBe("static"); // the first answer did not wait for the query model's session
    expect(cold.body.results.map((r: any) => r.id)).toEqual(staticTop10[q.id]);
    await w.settle(); // the model loads after the answer
    const warm = await w.ask({ query: q.text, k: 10, mode: "dense" });
    expect(warm.body.query.encoder).toBe("model");
    expect(warm.body.cached).toBeUndefined(); // the static ranking was not kept for this request
  });

  it("a cold isolate asked for the model explicitly waits for it", async () => {
    const w = coldIsolate(await createKey("static"));
    const first = await w.ask({ query: expected.queries[3].text, k: 10, mode: "dense", encoder: "model" });
    expect([first.status, first.body.query.encoder]).toEqual([200, "model"]);
  });
});
