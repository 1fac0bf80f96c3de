// Metadata filters through the worker, on a partitioned index with declared fields (global-setup.ts builds it from
// scifact-mini with metadata derived from each line): the filtered ranking is the unfiltered ranking restricted to
// the matching documents, on every side; a filter matching one document finds it at any probe; every mistake in a
// filter is a coded 400 naming the field.
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_INDEX, bucket, fixtureExpectations, publishBuildDir, search, type FixtureExpectations } from "./helpers";
import { objectKey } from "../../src/format";

const DIR = "test/.cache/mini-fields";
let fx: FixtureExpectations;
let manifest: any;

type Hit = { id: string; metadata?: Record<string, any> };

/** The semantics of the filters below, over a result's metadata. */
const FILTERS: Array<{ filter: Record<string, unknown>; matches: (md: Record<string, any>) => boolean }> = [
  { filter: { lang: "de" }, matches: (md) => md.lang === "de" },
  { filter: { year: { $gte: 2010, $lt: 2015 } }, matches: (md) => md.year >= 2010 && md.year < 2015 },
  { filter: { tags: { $in: ["t1", "t2"] }, lang: { $ne: "de" } }, matches: (md) => (md.tags.includes("t1") || md.tags.includes("t2")) && md.lang !== "de" },
  { filter: { $or: [{ year: { $exists: false } }, { published: { $lt: "2012-01-01" } }] }, matches: (md) => md.year === undefined || md.published < "2012-01-01" },
  { filter: { tags: "even", year: { $nin: [2000, 2002, 2004] } }, matches: (md) => md.tags.includes("even") && ![2000, 2002, 2004].includes(md.year) },
];

/**
 * The top `k` of `all` (an unfiltered ranking of the index's top 100) that match; undefined when fewer than k of
 * those 100 match (a matching document below them could then belong in the top k).
 */
function restricted(all: Hit[], matches: (md: Record<string, any>) => boolean, k: number): string[] | undefined {
  const m = all.filter((h) => matches(h.metadata!)).map((h) => h.id);
  return m.length >= k ? m.slice(0, k) : undefined;
}

beforeAll(async () => {
  fx = await fixtureExpectations();
  ({ manifest } = await publishBuildDir(DIR, "filters", "mini"));
  await publishBuildDir(FIXTURE_INDEX, "filters", "nofields");
});

describe("filters through the worker", () => {
  it("the index is a 2.1 manifest with declared fields and the documents of its 4 partitions", () => {
    expect(manifest.version).toEqual({ major: 2, minor: 1 });
    expect(manifest.fields.schema.map((f: any) => `${f.name}:${f.type}`)).toEqual(["year:int", "lang:keyword", "tags:keyword[]", "published:date", "rare:keyword"]);
    expect(manifest.fields.partitionDocs.count).toBe(4);
  });

  for (const mode of ["dense", "lexical"] as const) {
    it(`${mode}: the filtered top 5 is the unfiltered ranking restricted to the matching documents`, async () => {
      let compared = 0;
      for (const q of fx.queries.slice(0, 12)) {
        // every partition probed: the dense side is then exact, and filtered and unfiltered scan the same rows
        const all = (await search("filters", "mini", { query: q.text, k: 100, mode, probe: 4 })).body.results as Hit[];
        for (const { filter, matches } of FILTERS) {
          const { status, body } = await search("filters", "mini", { query: q.text, k: 5, mode, probe: 4, filter });
          expect(status, JSON.stringify(body)).toBe(200);
          expect(body.results.every((r: Hit) => matches(r.metadata!)), JSON.stringify(filter)).toBe(true);
          const want = restricted(all, matches, 5);
          if (!want || body.mode !== mode) continue;
          expect(body.results.map((r: Hit) => r.id), `${q.id} ${JSON.stringify(filter)}`).toEqual(want);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(30);
    });
  }

  it("hybrid: only matching documents, k of them when k match", async () => {
    for (const q of fx.queries.slice(0, 8)) {
      for (const { filter, matches } of FILTERS) {
        const { status, body } = await search("filters", "mini", { query: q.text, k: 10, mode: "hybrid", filter });
        expect(status).toBe(200);
        expect(body.mode).toBe("hybrid");
        expect(body.results).toHaveLength(10);
        expect(body.results.every((r: Hit) => matches(r.metadata!))).toBe(true);
      }
    }
  });

  it("a filter matching one document in 300 finds it at any probe, in every mode", async () => {
    for (const probe of [1, 2, undefined]) {
      for (const mode of ["dense", "hybrid", "lexical"] as const) {
        const { status, body } = await search("filters", "mini", { query: fx.queries[3].text, k: 10, mode, filter: { rare: "yes" }, ...(probe ? { probe } : {}) });
        expect(status, JSON.stringify(body)).toBe(200);
        expect(body.results.map((r: Hit) => r.metadata!.rare)).toEqual(["yes"]);
        // the dense side scanned the probe, and the one partition holding the document when the probe missed it
        if (mode !== "lexical" && probe === 1) expect([1, 2]).toContain(body.partitions.probed);
      }
    }
    const wide = await search("filters", "mini", { query: fx.queries[3].text, mode: "dense", probe: 1, filter: { lang: "de" } });
    expect(wide.body.partitions).toEqual({ probed: 1, of: 4 }); // 100 documents match: the probed partition holds 10
  });

  it("a filter matching nothing answers no results", async () => {
    const { status, body } = await search("filters", "mini", { query: fx.queries[0].text, filter: { lang: "xx" } });
    expect(status).toBe(200);
    expect(body.results).toEqual([]);
  });

  it("a filtered request is never answered from the cached unfiltered ranking (nor the reverse)", async () => {
    const q = fx.queries[5].text;
    const plain = await search("filters", "mini", { query: q, mode: "dense" });
    const filtered = await search("filters", "mini", { query: q, mode: "dense", filter: { lang: "de" } });
    const again = await search("filters", "mini", { query: q, mode: "dense", filter: { lang: "de" } });
    expect(filtered.body.results.every((r: Hit) => r.metadata!.lang === "de")).toBe(true);
    expect(plain.body.results.some((r: Hit) => r.metadata!.lang !== "de")).toBe(true);
    expect(again.body.cached).toBe(true);
    expect(again.body.results.map((r: Hit) => r.id)).toEqual(filtered.body.results.map((r: Hit) => r.id));
  });

  it("unknown fields, operators, wrong types and filters beyond the limits are 400 invalid_filter naming the field", async () => {
    const q = fx.queries[0].text;
    for (const [filter, message] of [
      [{ author: "x" }, 'filter.author: unknown field "author"; this index\'s filterable fields: year, lang, tags, published, rare'],
      [{ year: "2020" }, 'filter.year: year is an int field; expected a number, got "2020"'],
      [{ year: { $gt: "2020" } }, "filter.year.$gt: year is an int field"],
      [{ lang: { $lt: "en" } }, "filter.lang.$lt: lang is a keyword field; $lt takes int and date fields"],
      [{ published: { $gte: "last week" } }, "filter.published.$gte: published is a date field; expected an ISO 8601 date"],
      [{ tags: { $in: [] } }, "filter.tags.$in: expected an array of 1 to 1024 values"],
      [{ tags: { $regex: "t" } }, 'filter.tags.$regex: unknown operator "$regex"'],
      [{ $or: [{ lang: "en" }, "x"] }, "filter.$or[1]: expected an object"],
      [3, '"filter" must be an object'],
      [[{ lang: "en" }], '"filter" must be an object'],
    ] as const) {
      const { status, body } = await search("filters", "mini", { query: q, filter });
      expect(status, JSON.stringify(filter)).toBe(400);
      expect(body.error.code).toBe("invalid_filter");
      expect(body.error.message).toContain(message);
    }
    let deep: unknown = { lang: "en" };
    for (let i = 0; i < 6; i++) deep = { $and: [deep] };
    const { status, body } = await search("filters", "mini", { query: q, filter: deep });
    expect([status, body.error.code]).toEqual([400, "invalid_filter"]);
    expect(body.error.message).toContain("nested deeper than 4");
  });

  it("a filter on an index without declared fields is 400 invalid_filter", async () => {
    const { status, body } = await search("filters", "nofields", { query: fx.queries[0].text, filter: { lang: "en" } });
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_filter");
    expect(body.error.message).toBe('"filter": filters/nofields declares no filterable fields (build it with i3 build --fields)');
  });

  it("a corrupt columns object: filtered requests are 503 index_unavailable, unfiltered ones still answer", async () => {
    const { manifest: m } = await publishBuildDir(DIR, "filters", "corrupt");
    const key = objectKey("filters", "corrupt", m.fields.columns.path);
    const bytes = new Uint8Array(await (await bucket.get(key))!.arrayBuffer());
    bytes[100] ^= 0xff;
    await bucket.put(key, bytes);
    const q = fx.queries[1].text;
    const filtered = await search("filters", "corrupt", { query: q, filter: { lang: "en" } });
    expect([filtered.status, filtered.body.error.code]).toEqual([503, "index_unavailable"]);
    expect(filtered.body.error.message).not.toContain(m.fields.columns.sha256);
    expect((await search("filters", "corrupt", { query: q })).status).toBe(200);
  });
});
