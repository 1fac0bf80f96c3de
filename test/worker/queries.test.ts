// Long queries, paging, highlights, fields, documents by id and the list of a tenant's indexes, through the worker
// (workerd + the R2 simulator) on the fixture index (scifact-mini, 300 documents, with a lexical section).
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, queryTerms } from "../../src/text/analyzer";
import { MAX_QUERY_TERMS } from "../../src/search/bm25";
import { FIXTURE_INDEX, createKey, publishBuildDir, putManifestAndPointer, repoFile, search, testKeys } from "./helpers";

const TENANT = "queries";
let manifest: any;
let corpus: Array<{ _id: string; title: string; text: string }>;

beforeAll(async () => {
  ({ manifest } = await publishBuildDir(FIXTURE_INDEX, TENANT, "mini"));
  corpus = new TextDecoder().decode(await repoFile("test/fixtures/scifact-mini/corpus.jsonl")).trim().split("\n").map((l) => JSON.parse(l));
});

/** GET a path of the API with the tenant's search key (or `key`). */
async function get(path: string, key: string | null = testKeys.get(TENANT)!): Promise<{ status: number; body: any }> {
  const res = await exports.default.fetch(`http://worker${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, body: await res.json() };
}

describe("long queries", () => {
  it("a pasted document of 16k characters: the encoder truncates, BM25 scores its rarest 64 terms and says so", async () => {
    const query = corpus.map((d) => d.text).join(" ").slice(0, 16_384);
    for (const mode of ["lexical", "hybrid", "dense"] as const) {
      const { status, body } = await search(TENANT, "mini", { query, k: 10, mode });
      expect(status, mode).toBe(200);
      expect(body.results).toHaveLength(10);
      // The encoder reads the first tokens of the model's query window (lexical mode runs no encoder).
      expect(body.query.truncated).toBe(mode !== "lexical");
      if (mode === "dense") continue;
      expect(body.query.terms).toBe(queryTerms(query).length);
      expect(body.query.terms).toBeGreaterThan(MAX_QUERY_TERMS);
      expect(body.query.matchedTerms).toBe(MAX_QUERY_TERMS);
      expect(body.query.droppedTerms).toBeGreaterThan(0);
      expect(body.query.matchedTerms + body.query.droppedTerms).toBeLessThanOrEqual(body.query.terms);
    }
    const long = await search(TENANT, "mini", { query: "x".repeat(16_385) });
    expect(long.status).toBe(400);
    expect(long.body.error.code).toBe("query_too_long");
  });

  it("a short query drops nothing", async () => {
    const { body } = await search(TENANT, "mini", { query: "vitamin D bone density", mode: "lexical" });
    expect(body.query).toMatchObject({ terms: 4, droppedTerms: 0 });
  });
});

describe("paging", () => {
  it.each(["dense", "lexical", "hybrid"] as const)("%s: page 1 + page 2 equal the first 2k of one request, scores descending", async (mode) => {
    for (const query of ["cancer cell growth", "protein", corpus[7].title]) {
      const all = await search(TENANT, "mini", { query, k: 20, mode });
      const p1 = await search(TENANT, "mini", { query, k: 10, mode });
      const p2 = await search(TENANT, "mini", { query, k: 10, offset: 10, mode });
      expect([p1.status, p2.status, all.status]).toEqual([200, 200, 200]);
      expect(p2.body.offset).toBe(10);
      const ids = (r: any) => r.body.results.map((x: any) => x.id);
      expect([...ids(p1), ...ids(p2)]).toEqual(ids(all));
      expect(p2.body.results.map((x: any) => x.score)).toEqual(all.body.results.slice(10).map((x: any) => x.score));
    }
  });

  it("dense and lexical page to depth 1000; hybrid within its candidate window; beyond: 400 offset_out_of_range", async () => {
    const deep = await search(TENANT, "mini", { query: "cancer", k: 50, offset: 250, mode: "dense" });
    expect(deep.status).toBe(200);
    expect(deep.body.results).toHaveLength(50); // 300 documents
    const past = await search(TENANT, "mini", { query: "cancer", k: 10, offset: 300, mode: "dense" });
    expect(past.body.results).toEqual([]);
    for (const [body, code] of [
      [{ query: "x", k: 10, offset: 995 }, "offset_out_of_range"],
      [{ query: "x", offset: -1 }, "offset_out_of_range"],
      [{ query: "x", offset: 1.5 }, "offset_out_of_range"],
      [{ query: "x", offset: "10" }, "offset_out_of_range"],
      [{ query: "x", k: 10, offset: 95, mode: "hybrid" }, "offset_out_of_range"],
    ] as const) {
      const res = await search(TENANT, "mini", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe(code);
    }
    expect((await search(TENANT, "mini", { query: "x", k: 10, offset: 90, mode: "hybrid" })).status).toBe(200);
  });
});

describe("highlight and fields", () => {
  it("each result gets a snippet whose marks are the query's terms, as the analyzer sees them, and as HTML", async () => {
    const query = "Tumor suppressors in cancer cells";
    const want = new Set(analyze(query));
    const { status, body } = await search(TENANT, "mini", { query, k: 10, mode: "hybrid", highlight: true });
    expect(status).toBe(200);
    let marked = 0;
    for (const r of body.results) {
      const h = r.highlight;
      expect(h.text.length).toBeGreaterThan(0);
      expect(h.text.length).toBeLessThanOrEqual(300);
      expect(`${r.title} ${r.text}`.normalize("NFKC")).toContain(h.text);
      for (const [s, e] of h.marks) {
        expect(want.has(analyze(h.text.slice(s, e))[0])).toBe(true);
        marked++;
      }
      expect(h.html.match(/<mark>/g)?.length ?? 0).toBe(h.marks.length);
      expect(h.html.replace(/<\/?mark>/g, "")).not.toMatch(/[<>]/);
    }
    expect(marked).toBeGreaterThan(0);
    const plain = await search(TENANT, "mini", { query, k: 3 });
    expect(plain.body.results[0].highlight).toBeUndefined();
  });

  it("fields leaves out what is not asked for; a field it does not know is 400", async () => {
    const { body } = await search(TENANT, "mini", { query: "cancer", k: 3, fields: ["id", "title"] });
    for (const r of body.results) {
      expect(Object.keys(r).sort()).toEqual(["id", "score", "scores", "title"]);
    }
    const bad = await search(TENANT, "mini", { query: "cancer", fields: ["body"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
  });
});

describe("GET documents/:id", () => {
  it("returns the document a search returned, by its id", async () => {
    expect(manifest.docs.ids.buckets.length).toBeGreaterThan(0);
    const { body: found } = await search(TENANT, "mini", { query: "cancer", k: 5 });
    for (const r of found.results) {
      const { status, body } = await get(`/v1/tenants/${TENANT}/indexes/mini/documents/${encodeURIComponent(r.id)}`);
      expect(status).toBe(200);
      expect(body.version).toBe(found.version);
      expect(body.document).toMatchObject({ id: r.id, title: r.title, text: r.text });
    }
    const last = corpus.at(-1)!;
    expect((await get(`/v1/tenants/${TENANT}/indexes/mini/documents/${encodeURIComponent(last._id)}`)).body.document.text).toBe(last.text);
  });

  it("404 document_not_found, 404 index_not_found, 401 without a key, 403 with another tenant's", async () => {
    const missing = await get(`/v1/tenants/${TENANT}/indexes/mini/documents/no-such-doc`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("document_not_found");
    expect((await get(`/v1/tenants/${TENANT}/indexes/none/documents/x`)).body.error.code).toBe("index_not_found");
    expect((await get(`/v1/tenants/${TENANT}/indexes/mini/documents/x`, null)).status).toBe(401);
    const other = await createKey("queries-other");
    expect((await get(`/v1/tenants/${TENANT}/indexes/mini/documents/x`, other)).status).toBe(403);
  });

  it("an index built before the id index (manifest 2.0) answers 404 not_supported", async () => {
    const { manifest: m } = await publishBuildDir(FIXTURE_INDEX, TENANT, "old");
    const paths = new Set(m.docs.ids.buckets.map((b: any) => b.path));
    delete m.docs.ids;
    m.objects = m.objects.filter((o: any) => !paths.has(o.path));
    m.version = { major: 2, minor: 0 };
    await putManifestAndPointer(TENANT, "old", new TextEncoder().encode(JSON.stringify(m)));
    const { status, body } = await get(`/v1/tenants/${TENANT}/indexes/old/documents/${encodeURIComponent(corpus[0]._id)}`);
    expect(status).toBe(404);
    expect(body.error.code).toBe("not_supported");
  });
});

describe("GET a tenant's indexes", () => {
  it("lists each live index with version, counts and dates, a page at a time", async () => {
    const tenant = "lister";
    const versions: Record<string, string> = {};
    for (const name of ["alpha", "beta", "gamma"]) versions[name] = (await publishBuildDir(FIXTURE_INDEX, tenant, name)).version;
    // An object but no pointer: not a live index.
    await (env as unknown as { INDEXES: R2Bucket }).INDEXES.put(`tenants/${tenant}/indexes/unpublished/objects/x`, "x");
    const key = testKeys.get(tenant)!;
    const p1 = await get(`/v1/tenants/${tenant}/indexes?limit=2`, key);
    expect(p1.status).toBe(200);
    expect(p1.body.indexes.map((i: any) => i.index)).toEqual(["alpha", "beta"]);
    expect(p1.body.cursor).toEqual(expect.any(String));
    const p2 = await get(`/v1/tenants/${tenant}/indexes?limit=2&cursor=${encodeURIComponent(p1.body.cursor)}`, key);
    expect(p2.body.indexes.map((i: any) => i.index)).toEqual(["gamma"]);
    expect(p2.body.cursor).toBeUndefined();
    for (const i of [...p1.body.indexes, ...p2.body.indexes]) {
      expect(i).toMatchObject({ version: versions[i.index], documents: 300, passages: 300, manifest: "2.1", mode: "dense", fields: [] });
      expect(Date.parse(i.createdAt)).toBeGreaterThan(0);
      expect(Date.parse(i.publishedAt)).toBeGreaterThan(0);
    }
  });

  it("GET one index: its summary with its default mode and filterable fields (what the search page builds filters from)", async () => {
    const tenant = "lister";
    const { version } = await publishBuildDir("test/.cache/mini-fields", tenant, "fielded");
    const one = await get(`/v1/tenants/${tenant}/indexes/fielded`, testKeys.get(tenant)!);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ tenant, index: "fielded", version, documents: 300, manifest: "2.1" });
    expect(one.body.fields).toEqual([
      { name: "year", type: "int" }, { name: "lang", type: "keyword" }, { name: "tags", type: "keyword[]" },
      { name: "published", type: "date" }, { name: "rare", type: "keyword" },
    ]);
    const missing = await get(`/v1/tenants/${tenant}/indexes/nope`, testKeys.get(tenant)!);
    expect([missing.status, missing.body.error.code]).toEqual([404, "index_not_found"]);
    expect((await get(`/v1/tenants/${tenant}/indexes/fielded`, null)).status).toBe(401);
    expect((await get(`/v1/tenants/${tenant}/indexes/fielded`)).status).toBe(403); // the queries tenant's key
  });

  it("400 for a bad limit; 401 without a key; 403 for another tenant's key", async () => {
    for (const limit of ["0", "101", "x", "1.5"]) {
      const res = await get(`/v1/tenants/${TENANT}/indexes?limit=${limit}`);
      expect(res.status, limit).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    expect((await get(`/v1/tenants/${TENANT}/indexes`, null)).status).toBe(401);
    expect((await get(`/v1/tenants/lister/indexes`)).status).toBe(403);
  });
});
