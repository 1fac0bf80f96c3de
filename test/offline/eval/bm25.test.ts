import { describe, expect, it } from "vitest";
import { Bm25Index, tokenize } from "../../../offline/eval/bm25.ts";
import { topK } from "../../../offline/eval/topk.ts";

describe("tokenize", () => {
  it("lowercases and keeps maximal [a-z0-9] runs", () => {
    expect(tokenize("Hello, World! IL-6 x2")).toEqual(["hello", "world", "il", "6", "x2"]);
  });
  it("folds diacritics and compatibility forms (NFKD), drops other scripts", () => {
    expect(tokenize("Café naïve ﬁsh Ｈ２Ｏ")).toEqual(["cafe", "naive", "fish", "h2o"]);
    expect(tokenize("β-catenin 肺癌")).toEqual(["catenin"]);
    expect(tokenize("Café", { foldDiacritics: false })).toEqual(["caf"]);
  });
});

// Tiny corpus (same as test/fixtures/beir-tiny): N = 4, lengths 5, 2, 3, 5, avgdl = 15/4 = 3.75
const docs: Array<[string, string]> = [
  ["d1", "Apple pie apple apple banana"],
  ["d2", "banana split"],
  ["d3", "Cherry cherry apple"],
  ["d4", "Café au lait naïve café"],
];
function build() {
  const ix = new Bm25Index();
  for (const [id, t] of docs) ix.add(id, t);
  return ix.finish();
}
const k1 = 0.9;
const b = 0.4;
const norm = (dl: number) => k1 * (1 - b + (b * dl) / 3.75);
const idf = (df: number) => Math.log(1 + (4 - df + 0.5) / (df + 0.5));

describe("Bm25Index", () => {
  it("idf is Lucene's ln(1 + (N - df + 0.5)/(df + 0.5))", () => {
    const ix = build();
    expect(ix.idf("apple")).toBeCloseTo(Math.log(2), 12); // df 2
    expect(ix.idf("cherry")).toBeCloseTo(Math.log(1 + 3.5 / 1.5), 12); // df 1
    expect(ix.idf("unknown")).toBeCloseTo(Math.log(1 + 4.5 / 0.5), 12);
  });
  it("hand-computed scores for a one-term query", () => {
    const ix = build();
    const r = ix.search("APPLE", 10);
    expect(r.map((h) => ix.ids[h.doc])).toEqual(["d1", "d3"]);
    expect(r[0].score).toBeCloseTo((Math.log(2) * 3) / (3 + norm(5)), 12); // tf 3, dl 5
    expect(r[1].score).toBeCloseTo((Math.log(2) * 1) / (1 + norm(3)), 12); // tf 1, dl 3
  });
  it("sums over query terms; repeated query terms count once by default", () => {
    const ix = build();
    const sD3 = (idf(1) * 2) / (2 + norm(3));
    const sD2 = (idf(2) * 1) / (1 + norm(2));
    const sD1 = (idf(2) * 1) / (1 + norm(5));
    const r = ix.search("banana cherry cherry", 10);
    expect(r.map((h) => ix.ids[h.doc])).toEqual(["d3", "d2", "d1"]);
    expect(r.map((h) => h.score)).toEqual([sD3, sD2, sD1].map((x) => expect.closeTo(x, 12)));
    const counted = new Bm25Index({}, { queryTermCounts: true });
    for (const [id, t] of docs) counted.add(id, t);
    counted.finish();
    expect(counted.search("banana cherry cherry", 1)[0].score).toBeCloseTo(2 * sD3, 12);
  });
  it("folded query terms match folded docs; no match -> no results; k limits", () => {
    const ix = build();
    const r = ix.search("cafe NAIVE", 10);
    expect(r.map((h) => ix.ids[h.doc])).toEqual(["d4"]);
    expect(r[0].score).toBeCloseTo((idf(1) * 2) / (2 + norm(5)) + (idf(1) * 1) / (1 + norm(5)), 12);
    expect(ix.search("zzz", 10)).toEqual([]);
    expect(ix.search("apple banana", 1).length).toBe(1);
    // the accumulator is reset between queries
    expect(ix.search("APPLE", 10)[0].score).toBeCloseTo((Math.log(2) * 3) / (3 + norm(5)), 12);
  });
  it("custom k1/b", () => {
    const ix = new Bm25Index({ k1: 1.2, b: 0.75 });
    for (const [id, t] of docs) ix.add(id, t);
    ix.finish();
    const n = 1.2 * (1 - 0.75 + (0.75 * 2) / 3.75);
    expect(ix.search("split", 1)[0].score).toBeCloseTo((idf(1) * 1) / (1 + n), 12);
  });
  it("handles 100k docs quickly", () => {
    const ix = new Bm25Index();
    let seed = 1;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) {
      const words: string[] = [];
      for (let j = 0; j < 15; j++) words.push(`w${Math.floor(rnd() ** 2 * 20000)}`);
      ix.add(`doc${i}`, words.join(" "));
    }
    ix.finish();
    for (let q = 0; q < 50; q++) expect(ix.search(`w${q} w${q * 7 + 3} w${q * 31 + 100}`, 1000).length).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});

describe("topK", () => {
  it("returns indices of the k largest, best first", () => {
    const s = [0.1, 5, -1, 3, 5, 2];
    expect([...topK(s, 3)]).toEqual([1, 4, 3]);
    expect([...topK(s, 10)]).toEqual([1, 4, 3, 5, 0, 2]);
    expect([...topK(s, 2, [0, 2, 3])]).toEqual([3, 0]);
    expect([...topK(s, 0)]).toEqual([]);
  });
});
