// Documents by page (src/worker/store/docs.ts) over the R2 simulator: an index whose documents fit the isolate keeps
// the 64 KB pages of the records it served (read after the request's own records, under its waitUntil), so later
// documents of those pages cost no read; an index whose documents do not fit reads exact records only.
import { describe, expect, it } from "vitest";
import { byteRangeOf, createObjectRef, decodeDocBlock, encodeDocBlock, objectKey, readDocBlockIndex } from "../../src/format";
import { createByteCache } from "../../src/worker/store/byte-cache";
import { DOC_PAGE_BYTES, fetchDocs } from "../../src/worker/store/docs";
import { onnxruntimeWeb } from "../../src/worker/encoder/ort-web";
import { createRegistry } from "../../src/worker/store/registry";
import { CONNECTIONS, slots, type Storage } from "../../src/worker/store/storage";
import { FIXTURE_INDEX, bucket, publishBuildDir, repoFile } from "./helpers";

/** A request's storage over the simulator's bucket (no colo cache: every read reaches R2), its deferred work kept. */
function storage(deferred: Array<Promise<unknown>>): Storage {
  return { bucket, slot: slots(CONNECTIONS), defer: (p) => deferred.push(p), stats: { r2: 0, colo: 0, pointer: 0 } };
}

const MB = 1 << 20;

/** Ordinals of the fixture's one doc block by the page their record lies in (located as the worker does). */
async function ordinalsByPage(): Promise<Map<number, number[]>> {
  const m = JSON.parse(new TextDecoder().decode(await repoFile(`${FIXTURE_INDEX}/manifest.json`)));
  expect(m.docs.blocks).toHaveLength(1); // the fixture this test is written for
  const index = readDocBlockIndex(await repoFile(`${FIXTURE_INDEX}/${m.docs.blocks[0].path}`));
  const pages = new Map<number, number[]>();
  for (let i = 0; i < index.count; i++) {
    const { offset, length } = byteRangeOf(index, i);
    const p = Math.floor(offset / DOC_PAGE_BYTES);
    if (Math.floor((offset + length - 1) / DOC_PAGE_BYTES) !== p) continue; // records across two pages are left out
    pages.set(p, [...(pages.get(p) ?? []), i]);
  }
  expect(pages.size).toBeGreaterThanOrEqual(2);
  return pages;
}

describe("documents by page", () => {
  it("serves later documents of a page read for an earlier request with no read; other pages are read", async () => {
    await publishBuildDir(FIXTURE_INDEX, "pages", "fits");
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB });
    const idx = await reg.get(storage([]), "pages", "fits");
    const pages = await ordinalsByPage();
    const [first, second] = [...pages.keys()];
    const [a, b] = pages.get(first)!;

    const deferred: Array<Promise<unknown>> = [];
    const s1 = storage(deferred);
    const [docA] = await fetchDocs(s1, reg.cache, idx, [a]);
    expect(s1.stats.r2).toBeGreaterThan(0); // the block's index and the record
    expect(deferred.length).toBeGreaterThan(0);
    await Promise.all(deferred); // the page, after the request

    const s2 = storage([]);
    const [docB] = await fetchDocs(s2, reg.cache, idx, [b]);
    expect(docB.id).not.toBe(docA.id);
    expect(s2.stats).toEqual({ r2: 0, colo: 0, pointer: 0 });

    const s3 = storage([]);
    const [docC] = await fetchDocs(s3, reg.cache, idx, [pages.get(second)![0]]);
    expect(docC.id).not.toBe(docB.id);
    // Its record, then its page (that page was never read; counted by the request that begins it, after its records).
    expect(s3.stats.r2).toBe(2);
  });

  it("reads a block's index once with its first page (whose records it serves), and a page holding two records left in one read", async () => {
    await publishBuildDir(FIXTURE_INDEX, "pages", "once");
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 1.5 * MB }); // records only: no pages kept
    const idx = await reg.get(storage([]), "pages", "once");
    const pages = await ordinalsByPage();
    const first = pages.get(0)!;
    expect(first.length).toBeGreaterThanOrEqual(10);
    const [one, two] = [storage([]), storage([])];
    const [a, b] = await Promise.all([fetchDocs(one, reg.cache, idx, first.slice(0, 5)), fetchDocs(two, reg.cache, idx, first.slice(5, 10))]);
    expect([...a, ...b].map((d) => d.id)).toHaveLength(10);
    // The first request reads the block's first page for its index, and takes its records from it; the second shares
    // that index read, and reads the page once for its five records (not five records).
    expect(one.stats.r2).toBe(1);
    expect(two.stats.r2).toBe(1);
    // Another page: two of its records in one read; one record alone in one read (the index is held).
    const other = [...pages.keys()].find((p) => p > 0 && pages.get(p)!.length >= 3)!;
    const [x, y] = pages.get(other)!;
    const s3 = storage([]);
    const docs = await fetchDocs(s3, reg.cache, idx, [y, x]);
    expect(s3.stats.r2).toBe(1);
    const s4 = storage([]);
    const [z] = await fetchDocs(s4, reg.cache, idx, [pages.get(other)![2]]);
    expect(s4.stats.r2).toBe(1);
    // Each in the order asked, the documents the whole block holds at those ordinals.
    const block = decodeDocBlock(await repoFile(`${FIXTURE_INDEX}/${idx.manifest.docs.blocks[0].path}`));
    expect(docs).toEqual([block[y], block[x]]);
    expect(z).toEqual(block[pages.get(other)![2]]);
  });

  it("reads a record alone in its page beside a shared page's read, not after it", async () => {
    await publishBuildDir(FIXTURE_INDEX, "pages", "beside");
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 1.5 * MB }); // records only: no pages kept
    const idx = await reg.get(storage([]), "pages", "beside");
    const pages = await ordinalsByPage();
    await fetchDocs(storage([]), reg.cache, idx, [pages.get(0)![0]]); // the block's index is held now
    const [p, q] = [...pages.keys()].filter((n) => n > 0 && pages.get(n)!.length >= 2);
    const events: string[] = [];
    const s = storage([]);
    const slot = s.slot;
    let n = 0;
    s.slot = (read) => slot(async () => {
      const i = n++;
      events.push(`start ${i}`);
      try {
        return await read();
      } finally {
        events.push(`end ${i}`);
      }
    });
    const [a, b] = pages.get(p)!;
    await fetchDocs(s, reg.cache, idx, [a, b, pages.get(q)![0]]);
    expect(s.stats.r2).toBe(2); // the shared page, and the record alone
    // Both reads begin before either ends: one round trip, not two.
    expect(events.slice(0, 2)).toEqual(["start 0", "start 1"]);
  });

  it("reads the same documents from pages as from records (every ordinal of the block)", async () => {
    await publishBuildDir(FIXTURE_INDEX, "pages", "same");
    const paged = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB });
    const exact = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 1.5 * MB }); // 473 KB of documents do not fit 0.5 of its half
    const ip = await paged.get(storage([]), "pages", "same");
    const ie = await exact.get(storage([]), "pages", "same");
    const all = Array.from({ length: ip.manifest.corpus.documents }, (_, i) => i);
    const deferred: Array<Promise<unknown>> = [];
    await fetchDocs(storage(deferred), paged.cache, ip, all.slice(0, 10));
    await Promise.all(deferred);
    const fromPages = await fetchDocs(storage([]), paged.cache, ip, all);
    const fromRecords = await fetchDocs(storage([]), exact.cache, ie, all);
    expect(fromPages).toEqual(fromRecords);
    expect(fromPages.map((d) => d.id)).toHaveLength(all.length);
  });

  it("keeps no pages for an index whose documents do not fit: a neighbour's record is read again", async () => {
    await publishBuildDir(FIXTURE_INDEX, "pages", "large");
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 1.5 * MB });
    const idx = await reg.get(storage([]), "pages", "large");
    const [a, b] = [...(await ordinalsByPage()).values()][0];
    const deferred: Array<Promise<unknown>> = [];
    const first = storage(deferred);
    await fetchDocs(first, reg.cache, idx, [a]);
    await Promise.all(deferred); // the block index's shared load (settled already), and no page
    expect(first.stats.r2).toBe(1); // the block's first page, for its index and the record in it; nothing after
    const s = storage([]);
    await fetchDocs(s, reg.cache, idx, [b]);
    expect(s.stats.r2).toBe(1);
    expect(reg.cache.get(objectKey("pages", "large", idx.manifest.docs.blocks[0].path) + "@page0")).toBeUndefined();
  });
});

describe("documents in order, whatever their layout", () => {
  // Blocks written here to the R2 simulator: records of 200-7,200 bytes (many across page boundaries) in a block of
  // several pages with a short last page, a block smaller than a page, and a delta's block (numbered from 0 again).
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const docsOf = (n: number, first: number, size: () => number) => Array.from({ length: n }, (_, i) => ({ id: `d${first + i}`, text: "x".repeat(size()) }));

  async function setup(index: string) {
    const put = async (docs: Array<{ id: string; text: string }>, first: number) => {
      const bytes = encodeDocBlock(docs, first);
      const ref = await createObjectRef("docs", bytes, { count: docs.length });
      await bucket.put(objectKey("layout", index, ref.path), bytes);
      return { ref: { ...ref, first, count: docs.length }, bytes };
    };
    const b0 = await put(docsOf(60, 0, () => 200 + Math.floor(random() * 7000)), 0);
    const b1 = await put(docsOf(5, 60, () => 50), 60);
    const d0 = await put(docsOf(20, 0, () => 3000 + Math.floor(random() * 3000)), 0);
    // The parts of a loaded version fetchDocs reads: its tenant, index and doc blocks (base and delta).
    const idx = { tenant: "layout", index, manifest: { docs: { blocks: [b0.ref, b1.ref] }, delta: { first: 65, docs: { blocks: [d0.ref] } } } } as never;
    const truth = [...decodeDocBlock(b0.bytes), ...decodeDocBlock(b1.bytes), ...decodeDocBlock(d0.bytes)];
    return { idx, truth, b0 };
  }

  for (const [name, budget] of [["exact records", 100_000], ["kept by page", 64 * MB]] as const) {
    it(`${name}: every request (any order, repeats, base and delta, three at once) gets its documents in order`, async () => {
      const { idx, truth } = await setup(name === "exact records" ? "records" : "paged");
      const cache = createByteCache(budget);
      for (let round = 0; round < 30; round++) {
        const requests = Array.from({ length: 3 }, () => Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * truth.length)));
        const deferred: Array<Promise<unknown>> = [];
        const got = await Promise.all(requests.map((ordinals) => fetchDocs(storage(deferred), cache, idx, ordinals)));
        got.forEach((docs, r) => expect(docs).toEqual(requests[r].map((o) => truth[o])));
        await Promise.all(deferred);
        expect(cache.bytes).toBeLessThanOrEqual(budget);
      }
    });
  }

  it("a block missing from R2, or of another size, is FormatError truncated (before and after its index is held)", async () => {
    const { idx, b0 } = await setup("missing");
    const key = objectKey("layout", "missing", b0.ref.path);
    for (const budget of [100_000, 64 * MB]) {
      const cache = createByteCache(budget);
      await bucket.delete(key);
      await expect(fetchDocs(storage([]), cache, idx, [3])).rejects.toMatchObject({ code: "truncated" });
      await bucket.put(key, b0.bytes);
      await fetchDocs(storage([]), cache, idx, [0]); // the index is held now
      await bucket.delete(key);
      await expect(fetchDocs(storage([]), cache, idx, [40, 41, 42, 59])).rejects.toMatchObject({ code: "truncated" });
      await bucket.put(key, b0.bytes.subarray(0, b0.bytes.byteLength - 1));
      await expect(fetchDocs(storage([]), cache, idx, [40, 41, 42, 59])).rejects.toMatchObject({ code: "truncated" });
      await bucket.put(key, b0.bytes);
    }
  });
});
