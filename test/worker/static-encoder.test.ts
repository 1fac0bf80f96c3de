// The static query tier through the worker: `"encoder": "static"` searches with the index's static model and says
// so, the same ranking as `i3 eval --encoder static` over the same index; the index's default encoder applies when a
// request names none; an index without a static tier answers a coded 400.
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_INDEX, fixtureExpectations, publishBuildDir, repoJson, search, type FixtureExpectations } from "./helpers";
import { publishWithStaticTier } from "./variants";
let expected: FixtureExpectations;
let staticTop10: Record<string, string[]>;

/** The fixture index published as static/`index` with the static model (and `defaultEncoder`). */
const publishWithStatic = (index: string, defaultEncoder?: "model" | "static") => publishWithStaticTier("static", index, defaultEncoder);

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
    expect(body.error.message).toContain("\"encoder\" must be \"model\" or \"static\" or \"auto\"");
  });

  it("\"auto\" says which encoder ran and ranks as that one does (this worker holds the model: the model's); without a static tier, the model's", async () => {
    for (const index of ["with-static", "none"]) {
      for (const q of expected.queries.slice(0, 3)) {
        const auto = await search("static", index, { query: q.text, k: 10, mode: "dense", encoder: "auto" });
        expect(auto.status, JSON.stringify(auto.body)).toBe(200);
        const ran = auto.body.query.encoder;
        expect(["model", "static"]).toContain(ran);
        const same = await search("static", index, { query: q.text, k: 10, mode: "dense", ...(ran === "static" ? { encoder: "static" } : {}) });
        expect(auto.body.results.map((r: any) => r.id), `${index} ${ran}`).toEqual(same.body.results.map((r: any) => r.id));
      }
    }
    // Once a model request has run the model (a query no cache holds), the isolate holds it: "auto" runs it.
    const made = await search("static", "with-static", { query: `vitamin D ${Date.now()}`, k: 10, mode: "dense", encoder: "model" });
    expect([made.body.query.encoder, made.body.query.encoded]).toEqual(["model", "model"]);
    expect((await search("static", "with-static", { query: "bone fractures in the elderly", k: 10, mode: "dense", encoder: "auto" })).body.query.encoder).toBe("model");
  });
});
