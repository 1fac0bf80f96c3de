// A partitioned index (manifest 2.0) through the worker: the same results as the offline search over the same
// objects (src/search/ivf.ts both sides), probe per request, partitions loaded on demand, and warm queries that
// read nothing from R2.
import { beforeAll, describe, expect, it } from "vitest";
import { fixtureExpectations, publishBuildDir, repoJson, search, type FixtureExpectations } from "./helpers";

const DIR = "test/.cache/mini-ivf";
let fx: FixtureExpectations;
let offline: { top10: Record<string, Record<string, string[]>> };
let manifest: any;

function overlap(got: string[], want: string[]): number {
  const w = new Set(want);
  return got.filter((id) => w.has(id)).length / Math.max(1, want.length);
}

beforeAll(async () => {
  fx = await fixtureExpectations();
  offline = await repoJson(`test/.cache/mini-ivf-expected.json`);
  for (const name of ["dense", "hybrid", "dense-probe1", "dense-int4"]) {
    if (!fx.queries.every((q) => offline.top10[name]?.[q.id]?.length)) throw new Error(`mini-ivf-expected.json lacks ${name}: delete test/.cache`);
  }
  ({ manifest } = await publishBuildDir(DIR, "ivf", "mini"));
  await publishBuildDir(`${DIR}-int4`, "ivf", "mini-int4");
});

describe("a partitioned index through the worker", () => {
  it("is a 2.1 manifest with 4 partitions, centroids, refine rows and a measured default probe", () => {
    expect(manifest.version).toEqual({ major: 2, minor: 1 });
    expect(manifest.partitions).toHaveLength(4);
    expect(manifest.centroids).toMatchObject({ kind: "centroids", count: 4 });
    expect(manifest.partitions.every((p: any) => p.shards.length === 1 && p.refine?.count === p.shards[0].count)).toBe(true);
    expect(manifest.search.probe).toBeGreaterThanOrEqual(1);
    expect(manifest.search.plan.recallAt10).toBeGreaterThanOrEqual(0);
  });

  for (const [name, mode, probe] of [["dense", "dense", undefined], ["hybrid", "hybrid", undefined], ["dense-probe1", "dense", 1]] as const) {
    it(`${name}: the worker's top 10 equals the offline search's (overlap >= 0.95)`, async () => {
      let sum = 0;
      for (const q of fx.queries) {
        const { status, body } = await search("ivf", "mini", { query: q.text, k: 10, mode, ...(probe ? { probe } : {}) });
        expect(status, JSON.stringify(body)).toBe(200);
        expect(body.partitions).toEqual({ probed: probe ?? manifest.search.probe, of: 4 });
        sum += overlap(body.results.map((r: any) => r.id), offline.top10[name][q.id]);
      }
      expect(sum / fx.queries.length).toBeGreaterThanOrEqual(0.95);
    });
  }

  it("scans int4 rows (search.scan) as the offline search does: its top 10 equals the offline int4 search's (overlap >= 0.95)", async () => {
    let sum = 0;
    for (const q of fx.queries) {
      const { status, body } = await search("ivf", "mini-int4", { query: q.text, k: 10, mode: "dense" });
      expect(status, JSON.stringify(body)).toBe(200);
      sum += overlap(body.results.map((r: any) => r.id), offline.top10["dense-int4"][q.id]);
    }
    expect(sum / fx.queries.length).toBeGreaterThanOrEqual(0.95);
  });

  it("clamps probe to the partitions, and refuses one out of range (400 invalid_request)", async () => {
    const q = fx.queries[0].text;
    expect((await search("ivf", "mini", { query: q, mode: "dense", probe: 200 })).body.partitions).toEqual({ probed: 4, of: 4 });
    for (const probe of [0, 257, 1.5, "4"]) {
      const { status, body } = await search("ivf", "mini", { query: q, probe });
      expect(status).toBe(400);
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).toContain("probe");
    }
  });

  it("answers a repeated request from the isolate (no read, results of that version), and reuses the query vector", async () => {
    const body = { query: "a query asked twice about cells and proteins", k: 5, mode: "hybrid" };
    const first = await search("ivf", "mini", body);
    expect(first.status).toBe(200);
    expect(first.body.cached).toBeUndefined();
    const again = await search("ivf", "mini", body);
    expect(again.body.cached).toBe(true);
    // The tests read the pointer on every request (POINTER_TTL_MS 0); index data comes from the isolate alone.
    expect(again.body.reads).toEqual({ r2: 0, colo: 0, pointer: 1 });
    expect(again.body.results).toEqual(first.body.results);
    // Another k is another request, but the same tokens: the vector is not encoded again.
    const other = await search("ivf", "mini", { ...body, k: 3 });
    expect(other.body.cached).toBeUndefined();
    expect(other.body.query.encoded).toBe("isolate");
    expect(other.body.results.map((r: any) => r.id)).toEqual(first.body.results.slice(0, 3).map((r: any) => r.id));
  });
});
