import { describe, expect, it } from "vitest";
import {
  FORMAT_NAME, type LexicalSection, type Manifest, bucketOf, byteToLength, createObjectRef, decodeLexicalBucket,
  decodeLexicalNorms, encodeDocBlock, encodeLexicalBucket, encodeLexicalNorms, encodeShard, forEachPosting, lengthToByte,
  parseManifest, quantizeInt8, serializeManifest, termHash,
} from "../../src/format/index.ts";
import { code } from "./helpers/format-error.ts";
import { analyze, queryTerms, STOP_WORDS } from "../../src/lexical/index.ts";
import { fuse } from "../../src/search/fusion.ts";
import { searchHybrid } from "../../src/search/hybrid.ts";
import { bm25Idf, searchLexical, type LexicalReader } from "../../src/search/lexical.ts";

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
const DOCS = [
  "Vitamin D and bone density in children",
  "Bone fractures in the elderly: a cohort study",
  "Density functional theory of crystals",
  "Vitamin C intake and the common cold",
  "Children's sleep and school performance, bone bone bone",
];
async function memoryIndex(B: number) {
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
    fusion: { mode: "rrf", k: 60, weight: 0.3, depth: 100 }, defaultMode: "hybrid",
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
  it("weighted min-max normalizes each side; weight 1 is dense order, 0 is lexical order", () => {
    const f = fuse(dense, lexical, { mode: "weighted", weight: 0.5 });
    expect(f[0].ordinal).toBe(1);
    expect(f[0].score).toBeCloseTo(0.5 + 0.5 / 3, 12);
    expect(fuse(dense, lexical, { mode: "weighted", weight: 1 }).slice(0, 3).map((h) => h.ordinal)).toEqual([1, 2, 3]);
    expect(fuse(dense, lexical, { mode: "weighted", weight: 0 }).slice(0, 2).map((h) => h.ordinal)).toEqual([3, 1]);
    expect(fuse(dense, [], { mode: "weighted", weight: 0.3 }).map((h) => h.ordinal)).toEqual([1, 2, 3]);
  });
  it("lexical mode falls back to dense when nothing matches; hybrid fuses depth candidates", async () => {
    const { reader } = await memoryIndex(2);
    const d = async (n: number) => dense.slice(0, n);
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
});

describe("manifest lexical section (1.1)", () => {
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

  const bad: Array<[string, (m: any) => void, RegExp]> = [
    ["weight > 1", (m) => (m.lexical.fusion.weight = 1.5), /lexical\.fusion\.weight/],
    ["fusion mode", (m) => (m.lexical.fusion.mode = "sum"), /lexical\.fusion\.mode/],
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
