// Crafted and oversized objects (issue #13, defects 1 and 7): the worker compares sizes with the manifest (or the
// limits) before it reads a body, bounds a doc block's range reads by the block's size, and checks every header
// against the manifest, so each of these is a 503 `index_unavailable`: never a 500, a NaN score or an unbounded read.
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  crc32, createObjectRef, decodeDocBlock, decodeLexicalBucket, encodeDocBlock, encodeLexicalBucket, forEachPosting,
  INDEX_LIMITS, manifestKey, objectKey, pointerKey, sha256Hex, versionIdOf, type TermPostings,
} from "../../src/format";
import { queryTerms } from "../../src/text/analyzer";
import { callWorker, faultyBucket } from "./faulty-r2";
import { FIXTURE_INDEX, bucket, createKey, putManifestAndPointer, repoFile } from "./helpers";

const TENANT = "crafted";
let fixture: any;
let key: string;

beforeAll(async () => {
  fixture = JSON.parse(new TextDecoder().decode(await repoFile(`${FIXTURE_INDEX}/manifest.json`)));
  key = await createKey(TENANT);
});

/** Copies the fixture's objects under `index`, lets `craft` change the manifest (and put objects), then publishes it. */
async function publishCrafted(index: string, craft: (m: any) => Promise<void> | void): Promise<any> {
  for (const o of fixture.objects) await bucket.put(objectKey(TENANT, index, o.path), await repoFile(`${FIXTURE_INDEX}/${o.path}`));
  const m = structuredClone(fixture);
  await craft(m);
  await putManifestAndPointer(TENANT, index, new TextEncoder().encode(JSON.stringify(m)));
  return m;
}

/** Stores `bytes` as a new object of `index` and puts its reference in place of `old` (in its section and in objects). */
async function replaceObject(m: any, index: string, old: any, bytes: Uint8Array, extra: Record<string, unknown> = {}): Promise<any> {
  const ref = { ...(await createObjectRef(old.kind, bytes, { ext: old.path.split(".").pop(), count: old.count })), ...extra };
  await bucket.put(objectKey(TENANT, index, ref.path), bytes);
  m.objects = m.objects.map((o: any) => (o.path === old.path ? { ...ref, first: undefined } : o));
  return ref;
}

async function search(index: string, body: unknown, faulty = faultyBucket()) {
  const res = await callWorker(faulty.bucket, new Request(`http://worker/v1/tenants/${TENANT}/indexes/${index}/search`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  }));
  return { status: res.status, body: (await res.json()) as any, log: faulty.log };
}

function expectUnavailable(r: { status: number; body: any }) {
  expect(r.status, JSON.stringify(r.body)).toBe(503);
  expect(r.body.error.code).toBe("index_unavailable");
}

describe("sizes are checked before bodies are read", () => {
  it("a shard stored larger than the manifest says -> 503, and its body is never read", async () => {
    const shard = fixture.partitions[0].shards[0];
    await publishCrafted("big-shard", () => {});
    const padded = new Uint8Array(shard.bytes + 4 * 1024 * 1024);
    padded.set(await repoFile(`${FIXTURE_INDEX}/${shard.path}`));
    await bucket.put(objectKey(TENANT, "big-shard", shard.path), padded);
    const r = await search("big-shard", { query: "cancer" });
    expectUnavailable(r);
    const shardKey = objectKey(TENANT, "big-shard", shard.path);
    expect(r.log.gets.map((g) => g.key)).toContain(shardKey);
    expect(r.log.bodiesRead).not.toContain(shardKey);
  });

  it("a manifest over the size limit -> 503, and its body is never read", async () => {
    const junk = new Uint8Array(INDEX_LIMITS.maxManifestBytes + 1).fill(0x20);
    const sha256 = await sha256Hex(junk);
    const version = versionIdOf(sha256);
    const manifest = manifestKey(TENANT, "big-manifest", version);
    await bucket.put(manifest, junk);
    await bucket.put(pointerKey(TENANT, "big-manifest"), JSON.stringify({ version, manifest, publishedAt: new Date().toISOString(), sha256 }));
    const r = await search("big-manifest", { query: "cancer" });
    expectUnavailable(r);
    expect(r.log.gets.map((g) => g.key)).toContain(manifest);
    expect(r.log.bodiesRead).not.toContain(manifest);
  });

  it("a manifest over the index limits (put in R2 directly, not through the admin routes) -> 503, no object read", async () => {
    await publishCrafted("over-limits", (m) => {
      const extra = `e${"0".repeat(63)}`;
      m.objects.push({ path: `objects/${extra}.bin`, kind: "extra", bytes: INDEX_LIMITS.maxObjectBytes + 1, sha256: extra });
    });
    const r = await search("over-limits", { query: "cancer" });
    expectUnavailable(r);
    expect(r.log.gets.filter((g) => g.key.includes("/objects/"))).toEqual([]);
  });

  it("a pointer over its size limit -> 503, and its body is never read", async () => {
    const pointer = pointerKey(TENANT, "big-pointer");
    await bucket.put(pointer, " ".repeat(INDEX_LIMITS.maxPointerBytes + 1));
    const r = await search("big-pointer", { query: "cancer" });
    expectUnavailable(r);
    expect(r.log.bodiesRead).not.toContain(pointer);
  });
});

describe("doc blocks are checked against the manifest", () => {
  const block = () => fixture.docs.blocks[0];

  it("a header whose first ordinal is not the manifest's -> 503 (was a RangeError, 500)", async () => {
    const docs = decodeDocBlock(await repoFile(`${FIXTURE_INDEX}/${block().path}`));
    await publishCrafted("shifted-block", async (m) => {
      const ref = await replaceObject(m, "shifted-block", block(), encodeDocBlock(docs, 1));
      m.docs.blocks[0] = { ...ref, first: 0 };
    });
    expectUnavailable(await search("shifted-block", { query: "cancer", mode: "dense" }));
  });

  it("a header whose u32 prefix length runs past the block -> 503, and no range read past the block's size", async () => {
    const bytes = (await repoFile(`${FIXTURE_INDEX}/${block().path}`)).slice();
    const dv = new DataView(bytes.buffer);
    dv.setUint32(24, 50_000_000, true); // records start
    dv.setUint32(28, 50_000_000, true); // total bytes
    dv.setUint32(36, crc32(bytes.subarray(0, 36)), true); // a header CRC that holds
    let ref: any;
    await publishCrafted("long-prefix", async (m) => {
      ref = await replaceObject(m, "long-prefix", block(), bytes);
      m.docs.blocks[0] = { ...ref, first: 0 };
    });
    const r = await search("long-prefix", { query: "cancer", mode: "dense" });
    expectUnavailable(r);
    const ranges = r.log.gets.filter((g) => g.key === objectKey(TENANT, "long-prefix", ref.path)).map((g) => g.range!);
    expect(ranges.length).toBeGreaterThan(0);
    for (const range of ranges) expect((range.offset ?? 0) + (range.length ?? Infinity)).toBeLessThanOrEqual(ref.bytes);
  });
});

describe("vector shards and BM25 postings are checked against the manifest", () => {
  it("a flat shard whose header count is not the manifest's -> 503", async () => {
    await publishCrafted("shard-count", (m) => {
      const shard = m.partitions[0].shards[0];
      shard.count += 1;
      m.corpus.passages += 1;
      m.objects = m.objects.map((o: any) => (o.path === shard.path ? { ...o, count: shard.count } : o));
    });
    expectUnavailable(await search("shard-count", { query: "cancer", mode: "dense" }));
  });

  it("a posting of a document past the documents count -> 503 when a query reads it (was NaN scores)", async () => {
    const documents: number = fixture.lexical.documents;
    const id = 0;
    const old = fixture.lexical.buckets[id];
    const decoded = decodeLexicalBucket(await repoFile(`${FIXTURE_INDEX}/${old.path}`));
    const terms: TermPostings[] = [];
    for (const [term, t] of decoded.terms) {
      const docs: number[] = [], tfs: number[] = [];
      forEachPosting(decoded, t, (d, tf) => (docs.push(d), tfs.push(tf)));
      docs[docs.length - 1] = documents + 7; // past the last document, still ascending
      terms.push({ term, docs, tfs });
    }
    const query = [...decoded.terms.keys()].find((t) => queryTerms(t).length === 1 && queryTerms(t)[0] === t);
    expect(query).toBeDefined();
    await publishCrafted("bad-posting", async (m) => {
      m.lexical.buckets[id] = await replaceObject(m, "bad-posting", old, encodeLexicalBucket(id, fixture.lexical.buckets.length, terms));
    });
    const logged = vi.spyOn(console, "error");
    try {
      expectUnavailable(await search("bad-posting", { query, mode: "lexical" }));
      // Refused where its postings are read (before, the NaN-scored document reached the doc blocks, which have no such ordinal).
      expect(logged.mock.calls.flat().map(String).join("\n")).toMatch(/lexical bucket 0: posting \(doc 307/);
    } finally {
      logged.mockRestore();
    }
  });
});
