import { describe, expect, it } from "vitest";
import {
  FORMAT_NAME, type LexicalSection, type Manifest, bucketOf, byteToLength, createObjectRef, decodeLexicalBucket,
  decodeLexicalNorms, encodeDocBlock, encodeLexicalBucket, encodeLexicalNorms, encodeShard, forEachPosting, lengthToByte,
  parseManifest, quantizeInt8, serializeManifest, termHash,
} from "../../../src/format/index.ts";
import { code } from "../../helpers/format-error.ts";
import { analyze, queryTermCounts, queryTerms, STOP_WORDS } from "../../../src/text/analyzer.ts";
import { fuse, type CompleteScores } from "../../../src/search/fusion.ts";
import { searchHybrid } from "../../../src/search/modes.ts";
import { bm25Idf, MAX_QUERY_BUCKETS, MAX_QUERY_TERMS, searchLexical, type LexicalReader } from "../../../src/search/bm25.ts";

describe("analyzer", () => {
  it("lower-cases, splits on non-letters/digits, drops stop words and possessives, Porter-stems", () => {
    expect(analyze("The Vitamin-D levels of children's bones")).toEqual(["vitamin", "d", "level", "children", "bone"]);
    expect(analyze("Running RUNS ran")).toEqual(["run", "run", "ran"]);
  });
  it("NFKC folds compatibility forms; other scripts stay as tokens", () => {
    expect(analyze("ﬁle Ｆｕｌｌ x²")).toEqual(["file", "full", "x2"]);
    expect(analyze("維生素D 骨密度")).toEqual(["維生素d", "骨密度"]);
    expect(analyze("Ωmega café")).toEqual(["ωmega", "café"]);
  });
  it("gives nothing for stop words or punctuation only; queries dedupe", () => {
    expect(analyze("the of and to, is it?")).toEqual([]);
    expect(analyze("... !!! ---")).toEqual([]);
    expect(queryTerms("bone bones BONE density")).toEqual(["bone", "densiti"]);
    expect([...queryTermCounts("bone bones BONE density")]).toEqual([["bone", 3], ["densiti", 1]]);
    expect(STOP_WORDS.size).toBe(33);
  });
  it("cuts very long tokens to 64 code points", () => {
    expect(analyze("x".repeat(500))[0]).toHaveLength(64);
  });
});

describe("lexical format", () => {
  it("length bytes are Lucene's SmallFloat byte4: exact below 24, monotonic, within 1/8 above", () => {
    for (let n = 0; n < 24; n++) expect(byteToLength(lengthToByte(n))).toBe(n);
    let prev = -1;
    for (let n = 0; n < 100_000; n += 7) {
      const b = lengthToByte(n);
      expect(b).toBeGreaterThanOrEqual(prev);
      prev = b;
      const back = byteToLength(b);
      expect(back).toBeLessThanOrEqual(n);
      expect(n - back).toBeLessThanOrEqual(n / 8 + 1);
    }
    expect(lengthToByte(0x7fffffff)).toBe(255);
  });

  it("hashes terms with FNV-1a 32 over UTF-8", () => {
    expect(termHash("")).toBe(0x811c9dc5);
    expect(termHash("a")).toBe(0xe40c292c);
    expect(bucketOf("bone", 1)).toBe(0);
  });

  const terms = (B: number, id: number) =>
    ["bone", "densiti", "vitamin", "d", "骨密度", "x".repeat(64), "run"]
      .filter((t) => bucketOf(t, B) === id)
      .map((t, i) => ({ term: t, docs: [i, i + 3, i + 200, 70000 + i], tfs: [1, 2, 300, 1] }));

  it("round trips a bucket: dictionary and postings", () => {
    for (let id = 0; id < 3; id++) {
      const want = terms(3, id);
      const b = decodeLexicalBucket(encodeLexicalBucket(id, 3, want));
      expect(b.id).toBe(id);
      expect(b.buckets).toBe(3);
      expect([...b.terms.keys()]).toEqual(want.map((t) => t.term).sort());
      for (const t of want) {
        const docs: number[] = [], tfs: number[] = [];
        forEachPosting(b, b.terms.get(t.term)!, (d, tf) => (docs.push(d), tfs.push(tf)));
        expect({ docs, tfs, df: b.terms.get(t.term)!.df }).toEqual({ docs: t.docs, tfs: t.tfs, df: t.docs.length });
      }
    }
    expect(decodeLexicalBucket(encodeLexicalBucket(0, 1, [])).terms.size).toBe(0);
  });

  it("refuses crafted postings: a document past 2^32 (no wrap-around into range), a df the postings cannot hold", () => {
    // A gap over 32 bits once wrapped to document 3 of 10; it is refused, as a document past the count always was.
    const wide = encodeLexicalBucket(0, 1, [{ term: "a", docs: [2 ** 32 + 3], tfs: [1] }]);
    const read = (b: Uint8Array, documents?: number) => () => {
      const d = decodeLexicalBucket(b, documents);
      for (const t of d.terms.values()) forEachPosting(d, t, () => {});
    };
    expect(code(read(wide, 10))).toBe("invalid_object");
    expect(code(read(wide))).toBe("invalid_object"); // past 2^32 with no count given too
    // df 127 over 2 bytes of postings: refused before anything is sized by the df.
    const bytes = encodeLexicalBucket(0, 1, [{ term: "a", docs: [3], tfs: [1] }]);
    const at = bytes.findIndex((b, i) => b === "a".charCodeAt(0) && bytes[i + 1] === 1 && bytes[i + 2] === 2);
    expect(at).toBeGreaterThan(0); // term "a", df 1, 2 bytes of postings
    const crafted = bytes.slice();
    crafted[at + 1] = 127;
    expect(code(() => decodeLexicalBucket(crafted, 10))).toBe("invalid_object");
    expect(code(() => decodeLexicalBucket(crafted))).toBe("invalid_object");
    expect(decodeLexicalBucket(bytes, 10).terms.get("a")!.df).toBe(1);
  });

  it("refuses to write a term into the wrong bucket, unsorted postings or tf 0", () => {
    const t = terms(3, 0)[0];
    expect(() => encodeLexicalBucket(1, 3, [t])).toThrow(/belongs to bucket 0/);
    expect(() => encodeLexicalBucket(0, 1, [{ term: "a", docs: [3, 1], tfs: [1, 1] }])).toThrow(/ascend/);
    expect(() => encodeLexicalBucket(0, 1, [{ term: "a", docs: [1], tfs: [0] }])).toThrow(/tf/);
  });

  it("rejects corrupt buckets with coded errors", () => {
    const good = encodeLexicalBucket(0, 1, terms(1, 0));
    const mut = (f: (b: Uint8Array) => void) => {
      const b = good.slice();
      f(b);
      return b;
    };
    expect(code(() => decodeLexicalBucket(mut((b) => (b[0] = 0x58))))).toBe("bad_magic");
    expect(code(() => decodeLexicalBucket(mut((b) => (b[4] = 2))))).toBe("unsupported_version");
    expect(code(() => decodeLexicalBucket(mut((b) => (b[13] ^= 1))))).toBe("checksum_mismatch");
    expect(code(() => decodeLexicalBucket(good.subarray(0, good.length - 1)))).toBe("truncated");
    expect(code(() => decodeLexicalBucket(good.subarray(0, 20)))).toBe("truncated");
    // A dictionary byte flipped after the header: the postings no longer add up (sha256 guards the rest).
    expect(code(() => decodeLexicalBucket(mut((b) => (b[32 + 1 + 4 + 1] = 0x7f))))).toBe("invalid_object");
  });

  it("round trips norms and rejects corrupt ones", () => {
    const bytes = encodeLexicalNorms([0, 5, 23, 24, 1000]);
    expect(Array.from(decodeLexicalNorms(bytes), byteToLength)).toEqual([0, 5, 23, 24, byteToLength(lengthToByte(1000))]);
    expect(code(() => decodeLexicalNorms(bytes.subarray(0, bytes.length - 1)))).toBe("truncated");
    const b = bytes.slice();
    b[1] = 0x42;
    expect(code(() => decodeLexicalNorms(b))).toBe("bad_magic");
    expect(code(() => decodeLexicalBucket(bytes))).toBe("bad_magic");
  });
});

// A small index in memory: the same objects the build writes, read through a LexicalReader.
const DEFAULT_DOCS = [
  "Vitamin D and bone density in children",
  "Bone fractures in the elderly: a cohort study",
  "Density functional theory of crystals",
  "Vitamin C intake and the common cold",
  "Children's sleep and school performance, bone bone bone",
];
const DOCS = DEFAULT_DOCS;
async function memoryIndex(B: number, DOCS: readonly string[] = DEFAULT_DOCS) {
  const postings = new Map<string, { docs: number[]; tfs: number[] }>();
  const lengths: number[] = [];
  DOCS.forEach((d, i) => {
    const ts = analyze(d);
    lengths.push(ts.length);
    const tf = new Map<string, number>();
    for (const t of ts) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const [t, n] of tf) {
      const p = postings.get(t) ?? { docs: [], tfs: [] };
      p.docs.push(i);
      p.tfs.push(n);
      postings.set(t, p);
    }
  });
  const bucketBytes = Array.from({ length: B }, (_, id) =>
    encodeLexicalBucket(id, B, [...postings].filter(([t]) => bucketOf(t, B) === id).map(([term, p]) => ({ term, ...p }))));
  const normBytes = encodeLexicalNorms(lengths);
  const buckets = await Promise.all(bucketBytes.map((b, i) => createObjectRef("lexical", b, { ext: "i3lb", count: decodeLexicalBucket(b).terms.size })));
  const norms = { ...(await createObjectRef("lexical", normBytes, { ext: "i3ln", count: DOCS.length })), encoding: "lucene-byte4" as const };
  const section: LexicalSection = {
    analyzer: { name: "en-porter", version: 1 }, bm25: { k1: 0.9, b: 0.4 }, documents: DOCS.length,
    avgDocLength: lengths.reduce((a, b) => a + b) / DOCS.length, terms: postings.size, hash: "fnv1a32", buckets, norms,
    fusion: { mode: "rrf", k: 60, weight: 0.3, depth: 100, normalization: "tmm" }, defaultMode: "hybrid",
  };
  const loaded: number[] = [];
  const reader: LexicalReader = {
    section,
    bucket: async (id) => (loaded.push(id), decodeLexicalBucket(bucketBytes[id])),
    norms: async () => decodeLexicalNorms(normBytes),
  };
  return { section, reader, loaded, lengths, postings, bucketBytes, normBytes };
}

describe("BM25 over buckets", () => {
  it("equals a brute-force BM25 (exact lengths below 24) and loads only the query's buckets", async () => {
    const { reader, loaded, lengths, postings } = await memoryIndex(4);
    const avg = lengths.reduce((a, b) => a + b) / lengths.length;
    const query = "bone density in vitamin D children";
    const { hits, terms, matched } = await searchLexical(reader, query, 10);
    const want = DOCS.map((_, d) => {
      let s = 0;
      for (const t of queryTerms(query)) {
        const p = postings.get(t);
        const i = p ? p.docs.indexOf(d) : -1;
        if (i < 0) continue;
        const tf = p!.tfs[i];
        s += (bm25Idf(DOCS.length, p!.docs.length) * tf * 1.9) / (tf + 0.9 * (1 - 0.4 + (0.4 * lengths[d]) / avg));
      }
      return { ordinal: d, score: s };
    }).filter((h) => h.score > 0).sort((a, b) => b.score - a.score);
    expect(hits.map((h) => h.ordinal)).toEqual(want.map((h) => h.ordinal));
    hits.forEach((h, i) => expect(h.score).toBeCloseTo(want[i].score, 10));
    expect({ terms, matched }).toEqual({ terms: 5, matched: 5 });
    expect(new Set(loaded)).toEqual(new Set(queryTerms(query).map((t) => bucketOf(t, 4))));
  });

  it("weights a term by its count in the query, as Lucene sums duplicate clauses", async () => {
    const { reader } = await memoryIndex(4);
    const once = await searchLexical(reader, "vitamin bone", 10);
    const twice = await searchLexical(reader, "vitamin bone bone", 10);
    const boneOnly = await searchLexical(reader, "bone", 10);
    for (const h of twice.hits) expect(h.score).toBeCloseTo(once.score(h.ordinal) + boneOnly.score(h.ordinal), 10);
    expect({ terms: twice.terms, matched: twice.matched, dropped: twice.dropped }).toEqual({ terms: 2, matched: 2, dropped: 0 });
    // Doc 4 repeats "bone" and has no "vitamin": the repeated query term lifts it above doc 3 (vitamin only).
    expect(once.hits.findIndex((h) => h.ordinal === 4)).toBeGreaterThan(once.hits.findIndex((h) => h.ordinal === 3));
    expect(twice.hits.findIndex((h) => h.ordinal === 4)).toBeLessThan(twice.hits.findIndex((h) => h.ordinal === 3));
  });

  it("scores at most the cap's terms, the highest-idf ones, and says how many it dropped", async () => {
    const { reader, postings, loaded } = await memoryIndex(4);
    const query = "bone density vitamin children cold crystals zyzzyva";
    const all = await searchLexical(reader, query, 10);
    expect({ terms: all.terms, matched: all.matched, dropped: all.dropped }).toEqual({ terms: 7, matched: 6, dropped: 0 });
    const capped = await searchLexical(reader, query, 10, { caps: { terms: 2, buckets: 64 } });
    expect({ terms: capped.terms, matched: capped.matched, dropped: capped.dropped }).toEqual({ terms: 7, matched: 2, dropped: 4 });
    // The two kept: the rarest (df 1: "cold", "crystal"), so the query equals those two alone.
    const rare = [...postings].filter(([, p]) => p.docs.length === 1).map(([t]) => t);
    expect(rare).toEqual(expect.arrayContaining(["cold", "crystal"]));
    const alone = await searchLexical(reader, "cold crystals", 10);
    expect(capped.hits).toEqual(alone.hits);
    // A bucket cap: only the buckets of the first terms (by count, then first seen) are read.
    loaded.length = 0;
    const oneBucket = await searchLexical(reader, query, 10, { caps: { terms: 64, buckets: 1 } });
    const first = bucketOf("bone", 4);
    expect(loaded).toEqual([first]);
    const inFirst = queryTerms(query).filter((t) => bucketOf(t, 4) === first);
    expect(oneBucket.dropped).toBe(7 - inFirst.length);
    expect(oneBucket.matched).toBe(inFirst.filter((t) => postings.has(t)).length);
    expect(MAX_QUERY_TERMS).toBe(64);
  });

  it("a query of 200 indexed terms scores exactly its 64 of highest idf, read from at most 64 buckets", async () => {
    // Word i occurs in the documents d with d % (i + 1) === 0: the higher i, the rarer (ties between equal dfs).
    const words = Array.from({ length: 200 }, (_, i) => `zq${i.toString(36)}x`);
    const docs = Array.from({ length: 300 }, (_, d) => words.filter((_, i) => d % (i + 1) === 0).join(" ") || "empty");
    const { reader, postings, loaded } = await memoryIndex(100, docs);
    const query = [...words].reverse().join(" ");
    const r = await searchLexical(reader, query, 300);
    expect(new Set(loaded).size).toBeLessThanOrEqual(MAX_QUERY_BUCKETS);
    expect(r.terms).toBe(200);
    expect(r.matched).toBe(MAX_QUERY_TERMS);
    // Those looked up (the buckets of the first terms, in query order) minus the 64 kept.
    const lookedUp = new Set<number>();
    for (const t of queryTerms(query)) if (lookedUp.size < MAX_QUERY_BUCKETS || lookedUp.has(bucketOf(t, 100))) lookedUp.add(bucketOf(t, 100));
    const found = queryTerms(query).filter((t) => lookedUp.has(bucketOf(t, 100)) && postings.has(t));
    expect(r.dropped).toBe(200 - found.length + found.length - MAX_QUERY_TERMS);
    const df = (t: string) => postings.get(t)!.docs.length;
    const kept = [...found].sort((a, b) => df(a) - df(b) || queryTerms(query).indexOf(a) - queryTerms(query).indexOf(b)).slice(0, MAX_QUERY_TERMS);
    const alone = await searchLexical(reader, queryTerms(query).filter((t) => kept.includes(t)).join(" "), 300);
    expect(r.hits).toEqual(alone.hits);
  });

  it("a released result's score array serves the next query with nothing left of the first (every score as computed alone)", async () => {
    const { reader } = await memoryIndex(2);
    const queries = ["vitamin bone", "cold crystals", "bone density vitamin d", "crystals"];
    const alone = [];
    for (const q of queries) {
      const r = await searchLexical(reader, q, 50);
      alone.push({ hits: r.hits, scores: Array.from({ length: 60 }, (_, o) => r.score(o)) });
      // not released: every query got a fresh array
    }
    for (let round = 0; round < 2; round++) {
      for (const [i, q] of queries.entries()) {
        const r = await searchLexical(reader, q, 50);
        expect(r.hits).toEqual(alone[i].hits);
        expect(Array.from({ length: 60 }, (_, o) => r.score(o))).toEqual(alone[i].scores);
        r.release();
        r.release(); // twice: no harm
      }
    }
  });

  it("returns no hits (no error) for stop words only, unknown words and other scripts", async () => {
    const { reader } = await memoryIndex(2);
    for (const q of ["the of and", "zyzzyva quokka", "維生素D和骨密度", "!!!"]) expect((await searchLexical(reader, q, 10)).hits).toEqual([]);
  });
});

describe("fusion and modes", () => {
  const dense = [{ ordinal: 1, score: 0.9 }, { ordinal: 2, score: 0.5 }, { ordinal: 3, score: 0.1 }];
  const lexical = [{ ordinal: 3, score: 12 }, { ordinal: 1, score: 6 }, { ordinal: 4, score: 3 }];
  it("rrf sums 1/(k + rank)", () => {
    const f = fuse(dense, lexical, { mode: "rrf", k: 60 });
    expect(f.map((h) => h.ordinal)).toEqual([1, 3, 2, 4]);
    expect(f[0].score).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(f[0].scores).toEqual({ dense: 0.9, lexical: 6 });
  });
  const minmax = (weight: number) => ({ mode: "weighted" as const, weight, normalization: "minmax" as const });
  it("weighted minmax normalizes each list; weight 1 is dense order, 0 is lexical order", () => {
    const f = fuse(dense, lexical, minmax(0.5));
    expect(f[0].ordinal).toBe(1);
    expect(f[0].score).toBeCloseTo(0.5 + 0.5 / 3, 12);
    expect(fuse(dense, lexical, minmax(1)).slice(0, 3).map((h) => h.ordinal)).toEqual([1, 2, 3]);
    expect(fuse(dense, lexical, minmax(0)).slice(0, 2).map((h) => h.ordinal)).toEqual([3, 1]);
    expect(fuse(dense, [], minmax(0.3)).map((h) => h.ordinal)).toEqual([1, 2, 3]);
  });

  // Every document's exact scores: doc 4 has dense 0.3 (outside the dense list), doc 2 has BM25 2 (outside the lexical list).
  const exactDense = new Map([[1, 0.9], [2, 0.5], [3, 0.1], [4, 0.3]]);
  const exactLexical = new Map([[3, 12], [1, 6], [4, 3], [2, 2]]);
  const complete = (floor?: number): CompleteScores => ({
    dense: (o) => new Map(o.filter((x) => exactDense.has(x)).map((x) => [x, exactDense.get(x)!])),
    lexical: (o) => exactLexical.get(o) ?? 0,
    denseFloor: floor,
  });
  const tmm = (weight: number) => ({ mode: "weighted" as const, weight, normalization: "tmm" as const });
  it("weighted tmm scores every candidate on both sides and divides by the distance from the theoretical floor", () => {
    const f = fuse(dense, lexical, tmm(0.5), complete(-1));
    const expected = (o: number) => 0.5 * (exactDense.get(o)! + 1) / (0.9 + 1) + 0.5 * (exactLexical.get(o) ?? 0) / 12;
    expect(f.map((h) => h.ordinal)).toEqual([1, 3, 2, 4].sort((a, b) => expected(b) - expected(a)));
    for (const h of f) expect(h.score).toBeCloseTo(expected(h.ordinal), 12);
    // Both raw scores travel with each hit, also the side a doc was not retrieved by.
    expect(f.find((h) => h.ordinal === 4)!.scores).toEqual({ dense: 0.3, lexical: 3 });
    expect(f.find((h) => h.ordinal === 2)!.scores).toEqual({ dense: 0.5, lexical: 2 });
    // The weight's end points are the two sides' exact orders over the candidates.
    expect(fuse(dense, lexical, tmm(1), complete(-1)).map((h) => h.ordinal)).toEqual([1, 2, 4, 3]);
    expect(fuse(dense, lexical, tmm(0), complete(-1)).map((h) => h.ordinal)).toEqual([3, 1, 4, 2]);
  });
  it("weighted tmm: a missing floor takes the candidates' minimum; no lexical match leaves the dense order", () => {
    const f = fuse(dense, lexical, tmm(0.5), complete());
    for (const h of f) expect(h.score).toBeCloseTo(0.5 * (exactDense.get(h.ordinal)! - 0.1) / 0.8 + 0.5 * (exactLexical.get(h.ordinal) ?? 0) / 12, 12);
    expect(fuse(dense, [], tmm(0.3), { ...complete(-1), lexical: () => 0 }).map((h) => h.ordinal)).toEqual([1, 2, 3]);
    expect(() => fuse(dense, lexical, tmm(0.5))).toThrow(/complete scores/);
  });
  it("weighted tmm: flat dense scores barely move the lexical order, while minmax stretches them to [0, 1]", () => {
    const flat = [{ ordinal: 1, score: 0.52 }, { ordinal: 2, score: 0.51 }, { ordinal: 3, score: 0.5 }];
    const lex = [{ ordinal: 3, score: 12 }, { ordinal: 2, score: 11 }, { ordinal: 1, score: 10 }];
    const all: CompleteScores = { dense: () => new Map(), lexical: () => 0, denseFloor: -1 };
    expect(fuse(flat, lex, tmm(0.6), all).map((h) => h.ordinal)).toEqual([3, 2, 1]);
    expect(fuse(flat, lex, minmax(0.6)).map((h) => h.ordinal)).toEqual([1, 2, 3]);
  });
  it("lexical mode falls back to dense when nothing matches; hybrid fuses depth candidates", async () => {
    const { reader } = await memoryIndex(2);
    const d = async (n: number) => ({ hits: dense.slice(0, n), scores: (o: number[]) => new Map(o.map((x) => [x, exactDense.get(x) ?? 0])) });
    const l = (q: string) => (n: number) => searchLexical(reader, q, n);
    const fb = await searchHybrid({ mode: "lexical", k: 2, depth: 100, fusion: { mode: "rrf", k: 60 }, dense: d, lexical: l("the of") });
    expect(fb).toMatchObject({ mode: "dense", lexical: { terms: 0, matched: 0 } });
    expect(fb.hits.map((h) => h.ordinal)).toEqual([1, 2]);
    const h = await searchHybrid({ mode: "hybrid", k: 3, depth: 100, fusion: { mode: "rrf", k: 60 }, dense: d, lexical: l("vitamin") });
    expect(h.mode).toBe("hybrid");
    expect(h.hits).toHaveLength(3);
    const none = await searchHybrid({ mode: "hybrid", k: 3, depth: 100, fusion: { mode: "rrf", k: 60 }, dense: d });
    expect(none.mode).toBe("dense");
  });
  it("pages of every mode are one order: page 1 + page 2 = the first 2k, ties by lower ordinal", async () => {
    const { reader } = await memoryIndex(2);
    // Dense scores with ties, in an order that is not the ordinals'.
    const denseAll = [4, 2, 0, 3, 1].map((ordinal, i) => ({ ordinal, score: i < 3 ? 0.5 : 0.1 }));
    const d = async (n: number) => ({ hits: [...denseAll].sort((a, b) => b.score - a.score || a.ordinal - b.ordinal).slice(0, n), scores: (o: number[]) => new Map(o.map((x) => [x, denseAll.find((h) => h.ordinal === x)!.score])) });
    for (const mode of ["dense", "lexical", "hybrid"] as const) {
      for (const fusion of [{ mode: "rrf", k: 60 } as const, tmm(0.5)]) {
        const run = (k: number, offset: number) => searchHybrid({ mode, k, offset, depth: 100, fusion, dense: d, denseFloor: -1, lexical: (n) => searchLexical(reader, "bone vitamin density", n) });
        const all = (await run(4, 0)).hits;
        expect(all.length).toBeGreaterThanOrEqual(3);
        expect([...(await run(2, 0)).hits, ...(await run(2, 2)).hits]).toEqual(all);
        for (let i = 1; i < all.length; i++) expect(all[i].score < all[i - 1].score || all[i].ordinal > all[i - 1].ordinal).toBe(true);
      }
    }
  });

  it("hybrid tmm gets the lexical-only candidates' dense scores and the dense-only candidates' BM25", async () => {
    const { reader } = await memoryIndex(2);
    const asked: number[][] = [];
    const d = async (n: number) => ({ hits: dense.slice(0, n), scores: (o: number[]) => (asked.push(o), new Map(o.map((x) => [x, 0.25]))) });
    const lex = await searchLexical(reader, "vitamin", 100);
    const bm25 = new Map(DOCS.map((_, o) => [o, lex.score(o)])); // searchHybrid releases the result once fused
    const h = await searchHybrid({ mode: "hybrid", k: 10, depth: 100, fusion: tmm(0.5), dense: d, denseFloor: -1, lexical: async () => lex });
    expect(() => lex.score(0)).toThrow(/after release/);
    const onlyLexical = lex.hits.map((x) => x.ordinal).filter((o) => !dense.some((x) => x.ordinal === o));
    expect(asked).toEqual([onlyLexical]);
    for (const hit of h.hits) {
      expect(hit.scores.lexical).toBe(bm25.get(hit.ordinal));
      expect(hit.scores.dense).toBe(dense.find((x) => x.ordinal === hit.ordinal)?.score ?? 0.25);
    }
  });
});

describe("BM25 of any document", () => {
  it("score(ordinal) equals the hit's score, and 0 for a document without a query term", async () => {
    const { reader } = await memoryIndex(3);
    const r = await searchLexical(reader, "vitamin density", 1);
    const all = await searchLexical(reader, "vitamin density", 1000);
    expect(all.hits.length).toBeGreaterThan(1);
    for (const h of all.hits) expect(r.score(h.ordinal)).toBe(h.score);
    const unmatched = DOCS.map((_, i) => i).filter((i) => !all.hits.some((h) => h.ordinal === i));
    expect(unmatched.length).toBeGreaterThan(0);
    for (const o of unmatched) expect(r.score(o)).toBe(0);
    expect((await searchLexical(reader, "the of", 10)).score(0)).toBe(0);
  });
});

describe("manifest lexical section (1.1, fusion normalization since 1.2)", () => {
  async function manifestWith(section: LexicalSection): Promise<any> {
    const dim = 8;
    const shard = encodeShard({ dims: dim, ...quantizeInt8(new Float32Array(5 * dim).fill(0.1), dim), ordinals: new Uint32Array([0, 1, 2, 3, 4]) });
    const block = encodeDocBlock(DOCS.map((text, i) => ({ id: `d${i}`, text })), 0);
    const r = {
      shard: await createObjectRef("shard", shard, { count: 5 }), block: await createObjectRef("docs", block, { count: 5 }),
      model: await createObjectRef("model", new Uint8Array([1])), vocab: await createObjectRef("vocab", new Uint8Array([2])),
    };
    const { encoding: _, ...norms } = section.norms;
    const m: Manifest = {
      format: FORMAT_NAME, version: { major: 1, minor: 1 }, id: "lex", createdAt: "2026-01-01T00:00:00.000Z",
      corpus: { documents: 5, passages: 5, avgTokens: 8 }, vectors: { dim, quantization: "int8", binary: true, metric: "ip", normalized: true },
      model: { name: "m", maxQueryTokens: 128, query: r.model, vocab: r.vocab, tokenizerHash: r.vocab.sha256 },
      passages: { window: 128, stride: 96, docScore: "max" }, partitions: [{ id: 0, centroid: null, shards: [r.shard] }],
      docs: { blocks: [{ ...r.block, first: 0, count: 5 }] }, lexical: section, search: { k: 10, rescore: 100 },
      objects: [r.model, r.vocab, r.shard, r.block, ...section.buckets, norms],
    };
    return JSON.parse(serializeManifest(m));
  }

  it("round trips and validates", async () => {
    const { section } = await memoryIndex(3);
    const json = await manifestWith(section);
    const m = parseManifest(json);
    expect(m.lexical).toEqual(section);
    expect(JSON.parse(serializeManifest(m))).toEqual(json);
    const extra = { ...json, lexical: { ...json.lexical, future: 1 } };
    expect(parseManifest(extra).lexical).not.toHaveProperty("future");
  });

  it("reads a 1.1 section (no fusion.normalization) as the minmax fusion its weight was tuned for", async () => {
    const { section } = await memoryIndex(3);
    const json = await manifestWith(section);
    expect(json.lexical.fusion.normalization).toBe("tmm");
    delete json.lexical.fusion.normalization;
    json.version.minor = 1;
    expect(parseManifest(json).lexical!.fusion).toEqual({ ...section.fusion, normalization: "minmax" });
  });

  const bad: Array<[string, (m: any) => void, RegExp]> = [
    ["weight > 1", (m) => (m.lexical.fusion.weight = 1.5), /lexical\.fusion\.weight/],
    ["fusion mode", (m) => (m.lexical.fusion.mode = "sum"), /lexical\.fusion\.mode/],
    ["fusion normalization", (m) => (m.lexical.fusion.normalization = "zscore"), /lexical\.fusion\.normalization/],
    ["default mode", (m) => (m.lexical.defaultMode = "magic"), /lexical\.defaultMode/],
    ["no buckets", (m) => (m.lexical.buckets = []), /lexical\.buckets: expected a non-empty array/],
    ["bucket of another kind", (m) => (m.lexical.buckets[0].kind = "docs"), /buckets\[0\]\.kind/],
    ["term counts", (m) => (m.lexical.terms += 1), /counts summing to terms/],
    ["documents", (m) => (m.lexical.documents = 4), /lexical\.documents/],
    ["norms count", (m) => (m.lexical.norms.count = 4), /lexical\.norms\.count/],
    ["norm encoding", (m) => (m.lexical.norms.encoding = "raw"), /norms\.encoding/],
    ["bucket not in objects", (m) => m.objects.splice(4, 1), /lexical\.buckets\[0\]: expected an object listed/],
    ["hash", (m) => (m.lexical.hash = "md5"), /lexical\.hash/],
  ];
  it.each(bad)("rejects %s", async (_, mutate, re) => {
    const { section } = await memoryIndex(3);
    const json = await manifestWith(section);
    mutate(json);
    expect(() => parseManifest(json)).toThrow(re);
  });
});
