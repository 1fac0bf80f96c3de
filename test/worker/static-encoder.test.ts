// The static query tier through the worker: `"encoder": "static"` searches with the index's static model and says
// so, the same ranking as `i3 eval --encoder static` over the same index; the index's default encoder applies when a
// request names none; an index without a static tier answers a coded 400.
import { beforeAll, describe, expect, it } from "vitest";
import { objectKey, sha256Hex } from "../../src/format";
import { FIXTURE_INDEX, bucket, fixtureExpectations, publishBuildDir, putManifestAndPointer, repoFile, repoJson, search, type FixtureExpectations } from "./helpers";

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
});
