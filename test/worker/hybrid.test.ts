import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_INDEX, fixtureExpectations, publishBuildDir, putManifestAndPointer, search, type FixtureExpectations } from "./helpers";

let expected: FixtureExpectations;

beforeAll(async () => {
  expected = await fixtureExpectations();
  await publishBuildDir(FIXTURE_INDEX, "fixture", "hybrid");
  // The same objects under a manifest whose default mode is hybrid (as `i3 build` writes by default).
  const { manifest } = await publishBuildDir(FIXTURE_INDEX, "fixture", "hybrid-default");
  manifest.lexical.defaultMode = "hybrid";
  await putManifestAndPointer("fixture", "hybrid-default", new TextEncoder().encode(JSON.stringify(manifest)));
});

type Fused = { id: string; score: number; scores: { dense?: number; lexical?: number } };

/**
 * One hybrid hit against what the fusion and the offline BM25 top 10 (`bm25`) allow: its lexical score is the
 * product's BM25 of the document (exact for a top-10 document, at most the 10th score otherwise), and its fused
 * score is within the fusion's bounds for the sides it was found by.
 */
function expectFusedHit(fusion: "rrf" | "tmm" | "minmax", r: Fused, bm25: Array<{ id: string; score: number }>, weight: number) {
  const top = bm25.find((h) => h.id === r.id);
  if (top) expect(r.scores.lexical, r.id).toBeCloseTo(top.score, 9);
  else if (r.scores.lexical !== undefined) expect(r.scores.lexical, r.id).toBeLessThanOrEqual((bm25.length === 10 ? bm25[9].score : 0) + 1e-9);
  const sides = { dense: r.scores.dense !== undefined, lexical: r.scores.lexical !== undefined };
  expect(sides.dense || sides.lexical, r.id).toBe(true);
  if (fusion === "rrf") {
    // 1 / (60 + rank) from each list the document is in.
    expect(r.score).toBeGreaterThan(0);
    expect(r.score).toBeLessThanOrEqual((Number(sides.dense) + Number(sides.lexical)) / 61 + 1e-12);
  } else {
    // weight * dense + (1 - weight) * lexical, each side normalized to [0, 1]; tmm scores every candidate on both sides.
    if (fusion === "tmm") expect(sides).toEqual({ dense: true, lexical: true });
    expect(r.score).toBeGreaterThanOrEqual(0);
    expect(r.score).toBeLessThanOrEqual((sides.dense ? weight : 0) + (sides.lexical ? 1 - weight : 0) + 1e-12);
  }
}

describe("lexical and hybrid search through the worker", () => {
  it("lexical mode equals the offline BM25 over the same index (ids and scores)", async () => {
    for (const q of expected.queries) {
      const { status, body } = await search("fixture", "hybrid", { query: q.text, k: 10, mode: "lexical" });
      expect(status).toBe(200);
      expect(body.mode).toBe("lexical");
      const want = expected.lexicalTop10[q.id];
      expect(body.results.map((r: any) => r.id)).toEqual(want.map((h) => h.id));
      body.results.forEach((r: any, i: number) => {
        expect(r.score).toBeCloseTo(want[i].score, 9);
        expect(r.scores).toEqual({ lexical: r.score });
      });
    }
  }, 300_000);

  it("hybrid mode (rrf, weighted tmm, weighted minmax) agrees with the offline hybrid: top-10 overlap >= 0.95", async () => {
    for (const fusion of ["rrf", "tmm", "minmax"] as const) {
      let same = 0, total = 0;
      for (const q of expected.queries) {
        const body0 = fusion === "rrf" ? { fusion } : { fusion: "weighted", weight: expected.weight, normalization: fusion };
        const { status, body } = await search("fixture", "hybrid", { query: q.text, k: 10, mode: "hybrid", ...body0 });
        expect(status).toBe(200);
        expect(body.mode).toBe("hybrid");
        expect(body.fusion).toEqual(fusion === "rrf" ? { mode: "rrf", k: 60 } : { mode: "weighted", weight: expected.weight, normalization: fusion });
        expect(body.results).toHaveLength(10);
        const scores = body.results.map((r: Fused) => r.score);
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
        for (const r of body.results) expectFusedHit(fusion, r, expected.lexicalTop10[q.id], expected.weight);
        const want = new Set(expected.hybridTop10[fusion][q.id]);
        same += body.results.filter((r: Fused) => want.has(r.id)).length;
        total += want.size;
      }
      expect(same / total, fusion).toBeGreaterThanOrEqual(0.95);
    }
  }, 300_000);

  it("uses the manifest's defaults: dense for this index, hybrid with its fusion when the manifest says so", async () => {
    const q = expected.queries[3].text;
    expect((await search("fixture", "hybrid", { query: q })).body.mode).toBe("dense");
    const { status, body } = await search("fixture", "hybrid-default", { query: q, k: 5 });
    expect(status).toBe(200);
    expect(body.mode).toBe("hybrid");
    expect(body.fusion).toEqual({ mode: "weighted", weight: expected.weight, normalization: expected.normalization });
    // A request's weight or normalization replaces just that part of the index's default.
    const w = await search("fixture", "hybrid-default", { query: q, k: 5, weight: 0.25 });
    expect(w.body.fusion).toEqual({ mode: "weighted", weight: 0.25, normalization: expected.normalization });
    const n = await search("fixture", "hybrid-default", { query: q, k: 5, normalization: "minmax" });
    expect(n.body.fusion).toEqual({ mode: "weighted", weight: expected.weight, normalization: "minmax" });
    expect(body.results).toHaveLength(5);
  });

  it("no-match, stop-word-only, punctuation and non-Latin queries return 200 with (dense) results in every mode", async () => {
    const queries = ["the of and is it to", "zyzzyva quokkanese flibbertigibbet", "维生素D与骨密度的关系", "Витамин D и плотность костей", "плотность костей", "?!…", "ﾃｽﾄ 🧪"];
    for (const query of queries) {
      for (const mode of [undefined, "lexical", "hybrid", "dense"]) {
        const { status, body } = await search("fixture", "hybrid-default", { query, k: 5, ...(mode ? { mode } : {}) });
        expect(status, `${query} ${mode}`).toBe(200);
        expect(body.results.length, `${query} ${mode}`).toBe(5);
        // A lexical query whose terms are all unknown falls back to dense ("Витамин D" still matches "d").
        if (mode === "lexical") expect(body.mode).toBe(body.query.matchedTerms === 0 ? "dense" : "lexical");
      }
    }
  }, 300_000);

  it("bad mode, fusion, weight or normalization -> 400 invalid_request", async () => {
    const cases: unknown[] = [
      { query: "x", mode: "sparse" }, { query: "x", mode: 1 }, { query: "x", fusion: "sum" }, { query: "x", weight: 1.5 },
      { query: "x", weight: -0.1 }, { query: "x", weight: "0.5" }, { query: "x", fusion: "rrf", weight: 0.5 },
      { query: "x", normalization: "zscore" }, { query: "x", normalization: 1 }, { query: "x", fusion: "rrf", normalization: "tmm" },
    ];
    for (const body of cases) {
      const res = await search("fixture", "hybrid", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
  });

  it("lexical or hybrid on an index without a lexical section -> 400 invalid_request; dense still works", async () => {
    const { manifest } = await publishBuildDir(FIXTURE_INDEX, "fixture", "dense-only");
    const bucketPaths = new Set([...manifest.lexical.buckets.map((b: any) => b.path), manifest.lexical.norms.path]);
    delete manifest.lexical;
    manifest.objects = manifest.objects.filter((o: any) => !bucketPaths.has(o.path));
    await putManifestAndPointer("fixture", "dense-only", new TextEncoder().encode(JSON.stringify(manifest)));
    const q = expected.queries[0].text;
    expect((await search("fixture", "dense-only", { query: q, mode: "hybrid" })).body.error.code).toBe("invalid_request");
    expect((await search("fixture", "dense-only", { query: q, mode: "lexical" })).status).toBe(400);
    const d = await search("fixture", "dense-only", { query: q });
    expect(d.status).toBe(200);
    expect(d.body.mode).toBe("dense");
  });
});
