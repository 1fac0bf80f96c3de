// BM25 math of the product (offline/build/bm25.ts writes, src/search/bm25.ts scores, src/text/analyzer.ts analyzes),
// hand-computed on the tiny BEIR fixture through `i3 eval --model bm25`'s bm25Run.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bm25Idf } from "../../../src/search/bm25.ts";
import { bm25Run } from "../../../offline/eval/bm25-run.ts";

const CORPUS = "test/fixtures/beir-tiny/corpus.jsonl";
// Analyzed (title + text, Porter, stop words out): d1 appl pie appl appl banana (5 terms), d2 banana split (2),
// d3 cherri cherri appl (3), d4 café au lait naïv café (5). N = 4, avgdl = 15 / 4.
const N = 4;
const AVG = 15 / 4;
const idf = (df: number) => Math.log(1 + (N - df + 0.5) / (df + 0.5));
/** idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)) */
const w = (df: number, tf: number, len: number, k1 = 0.9, b = 0.4) => (idf(df) * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * len) / AVG));

async function search(text: string, o: { k?: number; k1?: number; b?: number; corpus?: string } = {}) {
  const { run, docs } = await bm25Run(o.corpus ?? CORPUS, [{ id: "q", text }], { k: o.k ?? 10, k1: o.k1 ?? 0.9, b: o.b ?? 0.4, log: () => {} });
  return { hits: run.get("q")!, docs };
}

describe("BM25 of the product (bm25Run)", () => {
  it("idf is Lucene's ln(1 + (N - df + 0.5) / (df + 0.5))", () => {
    expect(bm25Idf(4, 2)).toBeCloseTo(Math.log(2), 12);
    expect(bm25Idf(4, 1)).toBeCloseTo(Math.log(1 + 3.5 / 1.5), 12);
  });
  it("one term: the (k1 + 1) numerator and Lucene's length norm", async () => {
    const { hits, docs } = await search("APPLES");
    expect(docs).toBe(4);
    expect(hits.map((h) => h.id)).toEqual(["d1", "d3"]);
    expect(hits[0].score).toBeCloseTo(w(2, 3, 5), 12);
    expect(hits[1].score).toBeCloseTo(w(2, 1, 3), 12);
  });
  it("sums over distinct query terms, each weighted by its count in the query (as Lucene sums duplicate clauses)", async () => {
    const want = [["d3", w(1, 2, 3)], ["d2", w(2, 1, 2)], ["d1", w(2, 1, 5)]] as const;
    for (const [q, count] of [["banana cherry", 1], ["banana cherry cherries banana", 2]] as const) {
      const { hits } = await search(q);
      expect(hits.map((h) => h.id)).toEqual(want.map(([id]) => id));
      hits.forEach((h, i) => expect(h.score).toBeCloseTo(count * want[i][1], 12));
    }
  });
  it("custom k1 and b; k limits; no indexed term gives no hits", async () => {
    expect((await search("split", { k1: 1.2, b: 0.75 })).hits[0].score).toBeCloseTo(w(1, 1, 2, 1.2, 0.75), 12);
    expect((await search("banana cherry", { k: 1 })).hits.map((h) => h.id)).toEqual(["d3"]);
    expect((await search("the of zyzzyva")).hits).toEqual([]);
    // no diacritic folding: "cafe" is not "café"
    expect((await search("cafe")).hits).toEqual([]);
    expect((await search("café")).hits.map((h) => h.id)).toEqual(["d4"]);
  });
  it("skips empty documents (they cannot match) and counts the rest", async () => {
    const corpus = join(mkdtempSync(join(tmpdir(), "i3-bm25-")), "corpus.jsonl");
    writeFileSync(corpus, '{"_id": "e", "title": "", "text": " "}\n{"_id": "a", "text": "kiwi lemon"}\n{"_id": "b", "text": "mango"}\n');
    const { hits, docs } = await search("kiwi mango", { corpus });
    expect(docs).toBe(2);
    expect(hits.map((h) => h.id).sort()).toEqual(["a", "b"]);
  });
});
