import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { evaluate, METRICS, mrrAt, ndcgAt, overlapAt, recallAt, scoreQuery, sortHits, type Hit, type Qrels, type Run } from "../../../offline/eval/metrics.ts";

const hits = (...ids: string[]): Hit[] => ids.map((id, i) => ({ id, score: 100 - i }));
const rels = (o: Record<string, number>) => new Map(Object.entries(o));

describe("sortHits (trec_eval order)", () => {
  it("sorts by score desc, ties by doc id desc, drops duplicates", () => {
    const s = sortHits([
      { id: "a", score: 1 },
      { id: "c", score: 2 },
      { id: "b", score: 1 },
      { id: "c", score: 0.5 },
      { id: "d", score: 1 },
    ]);
    expect(s.map((h) => h.id)).toEqual(["c", "d", "b", "a"]);
  });
});

describe("nDCG@k", () => {
  it("binary: one relevant doc at rank 2 of 2 relevant", () => {
    // DCG = 1/log2(3); IDCG = 1 + 1/log2(3)
    const v = ndcgAt(hits("x", "a", "y"), rels({ a: 1, b: 1 }), 10);
    expect(v).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 12);
  });
  it("graded: linear gain = grade (trec_eval), ideal from all judged docs", () => {
    // ranking b(1) a(3) z(0) c(2); ideal a(3) c(2) b(1)
    const dcg = 1 + 3 / Math.log2(3) + 0 + 2 / Math.log2(5);
    const idcg = 3 + 2 / Math.log2(3) + 1 / 2;
    expect(ndcgAt(hits("b", "a", "z", "c"), rels({ a: 3, b: 1, c: 2, z: 0 }), 10)).toBeCloseTo(dcg / idcg, 12);
  });
  it("ideal is cut at k too", () => {
    // 12 relevant docs, ranking has only the first relevant at rank 1 -> DCG = 1, IDCG@10 = sum_{i=1..10} 1/log2(i+1)
    const r = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`r${i}`, 1]));
    let idcg = 0;
    for (let i = 1; i <= 10; i++) idcg += 1 / Math.log2(i + 1);
    expect(ndcgAt(hits("r0", "n1", "n2"), rels(r), 10)).toBeCloseTo(1 / idcg, 12);
  });
  it("docs beyond k do not count; perfect ranking = 1", () => {
    const ranking = hits(...Array.from({ length: 10 }, (_, i) => `n${i}`), "a");
    expect(ndcgAt(ranking, rels({ a: 1 }), 10)).toBe(0);
    expect(ndcgAt(hits("a", "b"), rels({ a: 2, b: 1 }), 10)).toBeCloseTo(1, 12);
  });
  it("a query with no relevant doc scores 0 (not NaN)", () => {
    expect(ndcgAt(hits("a"), rels({ a: 0, b: 0 }), 10)).toBe(0);
  });
  it("negative grades give no gain", () => {
    expect(ndcgAt(hits("a", "b"), rels({ a: -1, b: 1 }), 10)).toBeCloseTo(1 / Math.log2(3), 12);
  });
});

describe("MRR@k and Recall@k", () => {
  it("MRR: first doc with grade > 0, within k", () => {
    expect(mrrAt(hits("z", "n", "a", "b"), rels({ z: 0, a: 1, b: 2 }), 10)).toBeCloseTo(1 / 3, 12);
    expect(mrrAt(hits("n", "n2", "a"), rels({ a: 1 }), 2)).toBe(0);
    expect(mrrAt([], rels({ a: 1 }), 10)).toBe(0);
  });
  it("Recall: relevant in top k / all relevant (grade > 0)", () => {
    const r = rels({ a: 1, b: 2, c: 1, z: 0 });
    expect(recallAt(hits("a", "z", "x", "b"), r, 100)).toBeCloseTo(2 / 3, 12);
    expect(recallAt(hits("a", "z", "x", "b"), r, 3)).toBeCloseTo(1 / 3, 12);
  });
  it("fewer than k results and no relevant docs", () => {
    expect(recallAt(hits("a"), rels({ a: 1, b: 1 }), 1000)).toBe(0.5);
    expect(recallAt(hits("a"), rels({ a: 0 }), 100)).toBe(0);
  });
  it("ties are resolved like trec_eval (doc id descending) before cutting at k", () => {
    // all scores equal: order becomes c, b, a -> relevant "a" at rank 3
    const tied: Hit[] = ["a", "b", "c"].map((id) => ({ id, score: 1 }));
    const s = scoreQuery(tied, rels({ a: 1 }));
    expect(s["MRR@10"]).toBeCloseTo(1 / 3, 12);
    expect(s["nDCG@10"]).toBeCloseTo(1 / Math.log2(4), 12);
  });
});

describe("evaluate", () => {
  it("averages over queries with qrels; missing rankings count 0; queries without qrels ignored", () => {
    const qrels = new Map([
      ["q1", rels({ a: 1 })],
      ["q2", rels({ b: 1 })],
      ["q3", rels({ c: 0 })],
    ]);
    const run: Run = new Map([
      ["q1", hits("a")],
      ["q3", hits("c")],
      ["q9", hits("a")],
    ]);
    const e = evaluate(run, qrels);
    expect(e.evaluated).toBe(3);
    expect(e.missingFromRun).toBe(1);
    expect(e.noRelevant).toBe(1);
    expect(e.mean["nDCG@10"]).toBeCloseTo(1 / 3, 12);
    expect(e.mean["R@100"]).toBeCloseTo(1 / 3, 12);
    const sub = evaluate(run, qrels, ["q1", "q9"]);
    expect(sub.evaluated).toBe(1);
    expect(sub.mean["MRR@10"]).toBe(1);
  });
  it("overlapAt: recall of run a against run b's top k", () => {
    const a: Run = new Map([["q", hits("x", "y", "z")], ["r", hits("m")]]);
    const b: Run = new Map([["q", hits("y", "w")], ["r", hits("m")], ["s", hits("n")]]);
    const o = overlapAt(a, b, 10);
    expect(o.queries).toBe(2);
    expect(o.mean).toBeCloseTo((0.5 + 1) / 2, 12);
  });
});

// The same cases are checked against offline/train/metrics.py (offline/train/tests/test_metric_parity.py).
describe("metric parity fixture (test/fixtures/metric-cases.json)", () => {
  interface Case {
    name: string;
    qrels: Record<string, Record<string, number>>;
    run: Record<string, Array<[string, number]>>;
    expected: Record<string, number>;
  }
  const { cases } = JSON.parse(readFileSync(new URL("../../fixtures/metric-cases.json", import.meta.url), "utf8")) as { cases: Case[] };
  it("has cases for every metric", () => {
    expect(cases.length).toBeGreaterThanOrEqual(3);
    for (const c of cases) expect(Object.keys(c.expected).sort()).toEqual([...METRICS].sort());
  });
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const qrels: Qrels = new Map(Object.entries(c.qrels).map(([q, r]) => [q, new Map(Object.entries(r))]));
    const run: Run = new Map(Object.entries(c.run).map(([q, hits]) => [q, hits.map(([id, score]) => ({ id, score }))]));
    const { mean } = evaluate(run, qrels);
    for (const m of METRICS) expect(mean[m], m).toBeCloseTo(c.expected[m], 9);
  });
});
