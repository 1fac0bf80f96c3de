// MaxScore in searchLexical: once the terms left cannot lift a new document into the top `depth`, only candidates
// are scored, their postings read block by block (src/format/bm25.ts decodeBlock). Checked against BM25 computed
// from the raw postings: the same ranking, every document's score (score(), also of documents pruned away), with a
// filter and across a base and a delta; and fewer postings read once the isolate knows the lists' bounds.
import { describe, expect, it } from "vitest";
import {
  bucketOf, byteToLength, decodeBlock, decodeLexicalBucket, decodeLexicalNorms, decodePostings, encodeLexicalBucket,
  encodeLexicalNorms, lengthToByte, postingBlocks, POSTING_BLOCK, type LexicalBucket, type LexicalSection,
} from "../../../src/format/index.ts";
import { bm25Idf, searchLexical, type LexicalReader } from "../../../src/search/bm25.ts";
import { docFilter } from "../../../src/search/filter.ts";
import { queryTermCounts } from "../../../src/text/analyzer.ts";
import { rng } from "../../../src/random.ts";
import { code } from "../../helpers/format-error.ts";

const BM25 = { k1: 0.9, b: 0.4 };

/** Documents as term -> tf maps: "common" in most, "mid" in a third, a few rare words each. */
function corpus(n: number, seed: number): Array<Map<string, number>> {
  const random = rng(seed);
  return Array.from({ length: n }, () => {
    const d = new Map<string, number>();
    if (random() < 0.9) d.set("common", 1 + Math.floor(random() * 3));
    if (random() < 0.3) d.set("mid", 1 + Math.floor(random() * 2));
    for (let r = 0; r < 3; r++) {
      const w = `rare${Math.floor(random() * 400)}`;
      d.set(w, (d.get(w) ?? 0) + 1 + Math.floor(random() * random() * 4));
    }
    d.set("filler", 1 + Math.floor(random() * 30)); // lengths vary
    return d;
  });
}

/** A segment's buckets and norms as the build writes them; the buckets decoded once (an isolate's cache). */
function segment(docs: Array<Map<string, number>>, B: number) {
  const postings = new Map<string, { docs: number[]; tfs: number[] }>();
  docs.forEach((d, i) => {
    for (const [t, tf] of d) {
      const p = postings.get(t) ?? { docs: [], tfs: [] };
      p.docs.push(i);
      p.tfs.push(tf);
      postings.set(t, p);
    }
  });
  const lengths = docs.map((d) => [...d.values()].reduce((a, b) => a + b, 0));
  const buckets = Array.from({ length: B }, (_, id) =>
    decodeLexicalBucket(encodeLexicalBucket(id, B, [...postings].filter(([t]) => bucketOf(t, B) === id).map(([term, p]) => ({ term, ...p }))), docs.length));
  const norms = decodeLexicalNorms(encodeLexicalNorms(lengths));
  const avgDocLength = lengths.reduce((a, b) => a + b, 0) / docs.length;
  return { buckets, norms, lengths, avgDocLength, documents: docs.length, bucketRefs: buckets.map(() => ({})) };
}

function reader(base: ReturnType<typeof segment>, delta?: ReturnType<typeof segment>, bm25 = BM25): LexicalReader {
  const section = { bm25, documents: base.documents, avgDocLength: base.avgDocLength, buckets: base.bucketRefs } as unknown as LexicalSection;
  const r: LexicalReader = { section, bucket: async (id) => base.buckets[id], norms: async () => base.norms };
  if (delta) {
    r.delta = {
      first: base.documents,
      section: { documents: delta.documents, avgDocLength: delta.avgDocLength, buckets: delta.bucketRefs } as never,
      bucket: async (id) => delta.buckets[id],
      norms: async () => delta.norms,
    };
  }
  return r;
}

/** BM25 of every document of the version (base then delta) from the raw tfs, as Lucene scores it. */
function reference(docs: Array<Map<string, number>>, query: string, bm25 = BM25): number[] {
  const lengths = docs.map((d) => [...d.values()].reduce((a, b) => a + b, 0));
  const avg = lengths.reduce((a, b) => a + b, 0) / docs.length;
  const counts = queryTermCounts(query);
  const dfs = new Map([...counts.keys()].map((t) => [t, docs.filter((x) => x.has(t)).length]));
  return docs.map((d, o) => {
    let s = 0;
    for (const [t, count] of counts) {
      const tf = d.get(t);
      if (!tf) continue;
      const df = dfs.get(t)!;
      const norm = bm25.k1 * (1 - bm25.b + (bm25.b * byteToLength(lengthToByte(lengths[o]))) / avg);
      s += (count * bm25Idf(docs.length, df) * tf * (bm25.k1 + 1)) / (tf + norm);
    }
    return s;
  });
}

function expectExact(r: Awaited<ReturnType<typeof searchLexical>>, want: number[], depth: number, allowed = (_o: number) => true): void {
  const order = want.map((score, ordinal) => ({ ordinal, score })).filter((h) => h.score > 0 && allowed(h.ordinal))
    .sort((a, b) => b.score - a.score || a.ordinal - b.ordinal).slice(0, depth);
  expect(r.hits.map((h) => h.ordinal)).toEqual(order.map((h) => h.ordinal));
  r.hits.forEach((h, i) => expect(h.score).toBeCloseTo(order[i].score, 10));
  want.forEach((s, o) => expect(r.score(o)).toBeCloseTo(allowed(o) ? s : 0, 10));
}

describe("BM25 with MaxScore", () => {
  const docs = corpus(12000, 7);
  const queries = ["rare3 common", "rare7 rare11 common mid", "common", "mid common rare0 rare0", "rare399 filler"];

  it("ranks as every posting scored, gives every document its exact score, and reads fewer postings once it knows the lists", async () => {
    const r = reader(segment(docs, 8));
    let pruned = 0;
    for (const q of queries) {
      const first = await searchLexical(r, q, 20);
      const second = await searchLexical(r, q, 20); // the lists' bounds are known now
      const read = second.postings.read; // by the search (score() below reads blocks too, and counts them)
      expectExact(first, reference(docs, q), 20);
      expectExact(second, reference(docs, q), 20);
      // The same sums in the same order, pruned or not: bitwise equal.
      expect(second.hits).toEqual(first.hits);
      for (let o = 0; o < docs.length; o += 7) expect(second.score(o)).toBe(first.score(o));
      expect(second.postings.total).toBe(first.postings.total);
      if (read < second.postings.total) pruned++;
      expect(second.postings.read).toBeGreaterThanOrEqual(read);
      first.release();
      second.release();
    }
    // All but "common" alone: after the rare terms' few documents, "common" (idf ~0.1) cannot lift another above them.
    expect(pruned).toBe(queries.length - 1);
    const r1 = await searchLexical(r, "rare3 common", 20);
    expect(r1.postings.read).toBeLessThan(r1.postings.total / 3);
  });

  it("prunes with a filter and over a base and a delta (delta ordinals after the base's)", async () => {
    const more = corpus(3000, 8);
    const r = reader(segment(docs, 8), segment(more, 2));
    const all = [...docs, ...more];
    const bits = new Uint32Array(Math.ceil(all.length / 32));
    for (let o = 0; o < all.length; o++) if (o % 3 !== 1) bits[o >>> 5] |= 1 << (o & 31);
    const filter = docFilter(bits, all.length);
    for (const q of queries) {
      for (let round = 0; round < 2; round++) {
        const plain = await searchLexical(r, q, 15);
        expectExact(plain, reference(all, q), 15);
        plain.release();
        const filtered = await searchLexical(r, q, 15, { filter });
        expectExact(filtered, reference(all, q), 15, (o) => filter.has(o));
        filtered.release();
      }
    }
    const again = await searchLexical(r, "rare3 common", 15);
    expect(again.postings.read).toBeLessThan(again.postings.total / 3);
  });

  it.each([[BM25], [{ k1: 0, b: 0.4 }], [{ k1: 1.2, b: 0 }], [{ k1: 1.2, b: 1 }]])("bitwise what scoring every posting gives, bm25 %j (k1 0: every tf scores alike, ties everywhere)", async (bm25) => {
    const r = reader(segment(docs, 8), undefined, bm25);
    let pruned = 0;
    for (const q of queries) {
      await searchLexical(r, q, 10); // the lists' bounds learned
      const got = await searchLexical(r, q, 10);
      if (got.postings.read < got.postings.total) pruned++;
      // A depth no query fills: nothing can be skipped, every posting is scored (in the same order of terms).
      const full = await searchLexical(r, q, docs.length);
      expect(full.postings.read).toBe(full.postings.total);
      expect(got.hits).toEqual(full.hits.slice(0, 10));
      for (let o = 0; o < docs.length; o++) if (got.score(o) !== full.score(o)) expect([o, got.score(o)]).toEqual([o, full.score(o)]);
      const want = reference(docs, q, bm25);
      got.hits.forEach((h) => expect(h.score).toBeCloseTo(want[h.ordinal], 10));
      got.release();
      full.release();
    }
    expect(pruned).toBeGreaterThan(0);
  });

  it("a depth the matching documents do not fill scores every posting", async () => {
    const r = reader(segment(docs, 8));
    await searchLexical(r, "rare3 common", 5000);
    const deep = await searchLexical(r, "rare3 common", 5000);
    expect(deep.postings.read).toBe(deep.postings.total);
    expectExact(deep, reference(docs, "rare3 common"), 5000);
  });
});

describe("posting blocks", () => {
  const random = rng(3);
  const docs: number[] = [];
  for (let d = Math.floor(random() * 5); docs.length < 300; d += 1 + Math.floor(random() * (random() < 0.1 ? 5000 : 20))) docs.push(d);
  const tfs = docs.map(() => 1 + Math.floor(random() * (random() < 0.05 ? 300 : 4)));
  const bucket = (): LexicalBucket => decodeLexicalBucket(encodeLexicalBucket(0, 1, [{ term: "t", docs, tfs }]));

  it("each block read alone gives the postings the whole list gives", () => {
    const b = bucket();
    const t = b.terms.get("t")!;
    const blocks = postingBlocks(t.df);
    const all = { docs: new Uint32Array(t.df), tfs: new Uint32Array(t.df) };
    decodePostings(b, t, all.docs, all.tfs, blocks);
    expect(blocks.last.length).toBe(Math.ceil(300 / POSTING_BLOCK));
    const got: number[][] = [];
    const d = new Uint32Array(POSTING_BLOCK), f = new Uint32Array(POSTING_BLOCK);
    for (let i = 0; i < blocks.last.length; i++) {
      const n = decodeBlock(b, t, blocks, i, d, f);
      for (let j = 0; j < n; j++) got.push([d[j], f[j]]);
      expect(blocks.last[i]).toBe(d[n - 1]);
    }
    expect(got).toEqual(docs.map((x, i) => [x, tfs[i]]));
  });

  it("a table that does not fit the bytes is refused as invalid_object, never read as other postings", () => {
    const b = bucket();
    const t = b.terms.get("t")!;
    const blocks = postingBlocks(t.df);
    decodePostings(b, t, new Uint32Array(t.df), new Uint32Array(t.df), blocks);
    const d = new Uint32Array(POSTING_BLOCK), f = new Uint32Array(POSTING_BLOCK);
    const shifted = { start: blocks.start.slice(), last: blocks.last.slice() };
    shifted.start[2] += 1;
    expect(code(() => decodeBlock(b, t, shifted, 2, d, f))).toBe("invalid_object");
    const wrongLast = { start: blocks.start.slice(), last: blocks.last.slice() };
    wrongLast.last[1] -= 1;
    expect(code(() => decodeBlock(b, t, wrongLast, 1, d, f))).toBe("invalid_object");
    expect(() => decodeBlock(b, t, blocks, blocks.last.length, d, f)).toThrow(RangeError);
    // Another term's table (same block count) is not this term's: refused, never read as its postings.
    const two = decodeLexicalBucket(encodeLexicalBucket(0, 1, [{ term: "t", docs, tfs }, { term: "u", docs, tfs: tfs.map(() => 7) }]));
    const [tt, uu] = [two.terms.get("t")!, two.terms.get("u")!];
    const uBlocks = postingBlocks(uu.df);
    decodePostings(two, uu, new Uint32Array(uu.df), new Uint32Array(uu.df), uBlocks);
    expect(code(() => decodeBlock(two, tt, uBlocks, 1, d, f))).toBe("invalid_object");
    expect(() => decodePostings(b, t, new Uint32Array(t.df), new Uint32Array(t.df), postingBlocks(t.df + POSTING_BLOCK))).toThrow(RangeError);
  });
});
