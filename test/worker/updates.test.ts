// An incrementally updated version through the worker (workerd + the R2 simulator): global-setup.ts updates the
// fielded fixture index with `i3 build --base` (two documents replaced, one added, two deleted, one unknown id).
// Deleted and replaced text is never returned on any side, the new text is; documents by id, filters and the index
// summary see the delta; the worker ranks exactly as the offline search of the same build.
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { fixtureExpectations, publishBuildDir, repoFile, search, testKeys, type FixtureExpectations } from "./helpers";

const TENANT = "updates";
const BASE = "test/.cache/mini-fields";
const UPDATED = "test/.cache/mini-updated";
let fx: FixtureExpectations;
let manifest: any;
let upserts: Array<{ _id: string; text: string; metadata: Record<string, unknown> }>;
let deletes: string[];
let expected: { top10: Record<string, Record<string, string[]>> };

const text = async (p: string) => new TextDecoder().decode(await repoFile(p));

async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await exports.default.fetch(`http://worker${path}`, { headers: { authorization: `Bearer ${testKeys.get(TENANT)}` } });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  fx = await fixtureExpectations();
  await publishBuildDir(BASE, TENANT, "base");
  ({ manifest } = await publishBuildDir(UPDATED, TENANT, "mini"));
  upserts = (await text("test/.cache/mini-update-upserts.jsonl")).trim().split("\n").map((l) => JSON.parse(l));
  deletes = (await text("test/.cache/mini-update-deletes.txt")).trim().split("\n");
  expected = JSON.parse(await text("test/.cache/mini-updated-expected.json"));
});

describe("an updated version through the worker", () => {
  it("is a 3.0 manifest: the base's objects, a delta of 3 documents, 4 base documents tombstoned", async () => {
    expect(manifest.version).toEqual({ major: 3, minor: 0 });
    expect(manifest.delta).toMatchObject({ first: 300, documents: 3, updates: 1 });
    expect(manifest.tombstones.count).toBe(4);
    const base = JSON.parse(await text(`${BASE}/manifest.json`));
    const paths = new Set(manifest.objects.map((o: any) => o.path));
    expect(base.objects.every((o: any) => paths.has(o.path))).toBe(true);
  });

  it("ranks as the offline search of the same build: BM25 exactly; dense and hybrid with overlap >= 0.95 (the query encoders' runtimes differ)", async () => {
    for (const mode of ["dense", "lexical", "hybrid"] as const) {
      let sum = 0, compared = 0;
      for (const q of fx.queries) {
        const { status, body } = await search(TENANT, "mini", { query: q.text, k: 10, mode });
        expect(status).toBe(200);
        if (body.mode !== mode) continue;
        const ids: string[] = body.results.map((r: any) => r.id);
        const want = expected.top10[mode][q.id];
        if (mode === "lexical") expect(ids, q.id).toEqual(want);
        sum += ids.filter((id) => want.includes(id)).length / want.length;
        compared++;
      }
      expect(compared, mode).toBeGreaterThan(fx.queries.length / 2);
      expect(sum / compared, mode).toBeGreaterThanOrEqual(0.95);
    }
  });

  it("never returns a deleted document, nor the old text of a replaced one; finds the new text", async () => {
    const base = (await text("test/.cache/mini-fields-corpus.jsonl")).trim().split("\n").map((l) => JSON.parse(l));
    const gone = base.filter((d: any) => deletes.includes(d._id));
    expect(gone).toHaveLength(2);
    for (const mode of ["dense", "lexical", "hybrid"] as const) {
      for (const d of gone) {
        const { body } = await search(TENANT, "mini", { query: `${d.title} ${d.text}`.slice(0, 2000), k: 100, mode });
        expect(body.results.map((r: any) => r.id), mode).not.toContain(d._id);
        // The base version, which still has it, finds it first.
        expect((await search(TENANT, "base", { query: `${d.title} ${d.text}`.slice(0, 2000), k: 3, mode })).body.results[0].id).toBe(d._id);
      }
      for (const u of upserts) {
        const { body } = await search(TENANT, "mini", { query: u.text, k: 100, mode });
        expect(body.results[0].id, mode).toBe(u._id);
        expect(body.results[0].text).toBe(u.text);
        expect(body.results.filter((r: any) => r.id === u._id)).toHaveLength(1);
      }
    }
  });

  it("filters see the delta's documents and not the tombstoned ones", async () => {
    for (const mode of ["dense", "lexical", "hybrid"] as const) {
      const { status, body } = await search(TENANT, "mini", { query: "brewing quokka basalt", k: 10, mode, filter: { rare: "upd" } });
      expect(status).toBe(200);
      expect(body.results.map((r: any) => r.id).sort(), mode).toEqual(upserts.map((u) => u._id).sort());
      const old = await search(TENANT, "mini", { query: "cell", k: 100, mode, filter: { year: { $lt: 2031 } } });
      expect(old.body.results.some((r: any) => upserts.some((u) => u._id === r.id) || deletes.includes(r.id))).toBe(false);
    }
  });

  it("documents by id: the newest copy, 404 for a deleted one", async () => {
    for (const u of upserts) {
      const { status, body } = await get(`/v1/tenants/${TENANT}/indexes/mini/documents/${encodeURIComponent(u._id)}`);
      expect(status).toBe(200);
      expect(body.document.text).toBe(u.text);
      expect(body.document.metadata).toEqual(u.metadata);
    }
    for (const id of deletes) {
      const { status, body } = await get(`/v1/tenants/${TENANT}/indexes/mini/documents/${encodeURIComponent(id)}`);
      expect(status).toBe(404);
      expect(body.error.code).toBe("document_not_found");
    }
  });

  it("the index summary counts live documents and describes the delta", async () => {
    const { status, body } = await get(`/v1/tenants/${TENANT}/indexes/mini`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ documents: 299, manifest: "3.0", delta: { documents: 3, deleted: 4, updates: 1 } });
    expect(body.passages).toBe(300 + 3);
    const list = await get(`/v1/tenants/${TENANT}/indexes`);
    expect(list.body.indexes.find((i: any) => i.index === "base").delta).toBeUndefined();
  });
});

describe("a delete-only update of a flat index (tombstones, no delta)", () => {
  let deleted: Array<{ _id: string; title: string; text: string }>;
  beforeAll(async () => {
    await publishBuildDir("test/.cache/mini-deleted", TENANT, "flat");
    const ids = (await text("test/.cache/mini-flat-deletes.txt")).trim().split("\n");
    const corpus = (await text("test/fixtures/scifact-mini/corpus.jsonl")).trim().split("\n").map((l) => JSON.parse(l));
    deleted = corpus.filter((d: any) => ids.includes(d._id));
    expect(deleted).toHaveLength(2);
  });

  it("never returns the deleted documents, in any mode; by id they are 404; the summary counts them out", async () => {
    for (const mode of ["dense", "lexical", "hybrid"] as const) {
      for (const d of deleted) {
        const { status, body } = await search(TENANT, "flat", { query: `${d.title} ${d.text}`.slice(0, 2000), k: 100, mode });
        expect(status).toBe(200);
        if (mode !== "lexical") expect(body.results).toHaveLength(100); // BM25 returns only documents with a query term
        expect(body.results.map((r: any) => r.id), mode).not.toContain(d._id);
      }
    }
    for (const d of deleted) expect((await get(`/v1/tenants/${TENANT}/indexes/flat/documents/${d._id}`)).status).toBe(404);
    const { body } = await get(`/v1/tenants/${TENANT}/indexes/flat`);
    expect(body).toMatchObject({ documents: 298, manifest: "3.0", delta: { documents: 0, deleted: 2, updates: 0 } });
  });
});
