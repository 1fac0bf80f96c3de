// Fusion of a dense and a lexical ranking of documents (both sorted best first).
//  - rrf: score = sum over the lists of 1 / (k + rank), rank from 1; a list a doc is absent from adds nothing.
//  - weighted: weight * dense + (1 - weight) * lexical over normalized scores, with one of two normalizations:
//    - "tmm" (theoretical min-max; Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval",
//      TOIS 2023): every candidate of either list is scored on both sides exactly (`CompleteScores`: its BM25,
//      0 without a query term; its best passage's inner product), and each side is mapped by
//      (s - floor) / (max - floor), with floor the score's theoretical minimum: 0 for BM25, -1 for unit vectors.
//      A query whose dense scores are all alike thus moves the fused order little, whatever the weight.
//    - "minmax" (manifests before 1.2): each list's scores min-max normalized over that list (all equal -> 1);
//      a doc absent from a list gets 0 from it.
// Output: best first, ties by lower doc ordinal; each hit keeps the raw score of each side known for it.
import type { DocHit } from "./dense";

export interface FusedHit {
  ordinal: number;
  score: number;
  scores: { dense?: number; lexical?: number };
}

export type Normalization = "tmm" | "minmax";

export type Fusion = { mode: "rrf"; k: number } | { mode: "weighted"; weight: number; normalization: Normalization };

/** Exact scores of any candidate on each side (what "tmm" fusion needs beyond the two lists). */
export interface CompleteScores {
  /** Dense scores of the given documents (every one of them that has a vector). */
  dense(ordinals: number[]): Map<number, number>;
  /** BM25 of a document for this query, 0 without a query term. */
  lexical(ordinal: number): number;
  /** Theoretical minimum of a dense score: -1 for unit vectors; undefined: the candidates' minimum. */
  denseFloor?: number;
}

function gather(dense: DocHit[], lexical: DocHit[], contrib: (side: "dense" | "lexical", h: DocHit, rank: number, list: DocHit[]) => number): FusedHit[] {
  const out = new Map<number, FusedHit>();
  for (const [side, list] of [["dense", dense], ["lexical", lexical]] as const) {
    list.forEach((h, i) => {
      let f = out.get(h.ordinal);
      if (!f) out.set(h.ordinal, (f = { ordinal: h.ordinal, score: 0, scores: {} }));
      f.scores[side] = h.score;
      f.score += contrib(side, h, i + 1, list);
    });
  }
  return sorted(out.values());
}

const sorted = (hits: Iterable<FusedHit>) => [...hits].sort((a, b) => b.score - a.score || a.ordinal - b.ordinal);

function minMax(scores: Iterable<number>): { lo: number; hi: number } {
  let lo = Infinity, hi = -Infinity;
  for (const s of scores) {
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  return { lo, hi };
}

/** (s - floor) / (hi - floor); 1 for every score when hi <= floor (nothing to tell the candidates apart). */
const scale = (floor: number, hi: number) => (s: number) => (hi > floor ? (s - floor) / (hi - floor) : 1);

function fuseTmm(dense: DocHit[], lexical: DocHit[], weight: number, all: CompleteScores): FusedHit[] {
  const d = new Map(dense.map((h) => [h.ordinal, h.score]));
  const l = new Map(lexical.map((h) => [h.ordinal, h.score]));
  const onlyLexical = lexical.filter((h) => !d.has(h.ordinal)).map((h) => h.ordinal);
  for (const [o, s] of all.dense(onlyLexical)) d.set(o, s);
  for (const h of dense) if (!l.has(h.ordinal)) l.set(h.ordinal, all.lexical(h.ordinal));
  const dr = minMax(d.values());
  const dn = scale(Math.min(all.denseFloor ?? dr.lo, dr.lo), dr.hi);
  const ln = scale(0, minMax(l.values()).hi);
  const hits: FusedHit[] = [];
  for (const [ordinal, ls] of l) {
    const ds = d.get(ordinal);
    // A candidate without a vector (none in a valid index) takes the dense side's floor.
    const score = weight * (ds === undefined ? 0 : dn(ds)) + (1 - weight) * ln(ls);
    hits.push({ ordinal, score, scores: ds === undefined ? { lexical: ls } : { dense: ds, lexical: ls } });
  }
  return sorted(hits);
}

/**
 * Fuses the two lists; returns every document of either list, best first. "tmm" needs `all`.
 *
 * @example
 * fuse(denseHits, lexicalHits, { mode: "rrf", k: 60 }).slice(0, 10);
 * fuse(denseHits, lexicalHits, { mode: "weighted", weight: 0.8, normalization: "tmm" }, complete).slice(0, 10);
 */
export function fuse(dense: DocHit[], lexical: DocHit[], f: Fusion, all?: CompleteScores): FusedHit[] {
  if (f.mode === "rrf") return gather(dense, lexical, (_s, _h, rank) => 1 / (f.k + rank));
  if (f.normalization === "tmm") {
    if (!all) throw new Error("tmm fusion needs the complete scores of the candidates");
    return fuseTmm(dense, lexical, f.weight, all);
  }
  const d = minMax(dense.map((h) => h.score));
  const l = minMax(lexical.map((h) => h.score));
  return gather(dense, lexical, (side, h) => {
    const { lo, hi } = side === "dense" ? d : l;
    const norm = hi > lo ? (h.score - lo) / (hi - lo) : 1;
    return (side === "dense" ? f.weight : 1 - f.weight) * norm;
  });
}
