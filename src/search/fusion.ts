// Fusion of a dense and a lexical ranking of documents (both sorted best first).
//  - rrf: score = sum over the lists of 1 / (k + rank), rank from 1; a list a doc is absent from adds nothing.
//  - weighted: each list's scores min-max normalized to [0, 1] (all equal -> 1), then
//    weight * dense + (1 - weight) * lexical; absent -> 0 from that list.
// Output: best first, ties by lower doc ordinal; each hit keeps the raw score of each side it came from.
import type { DocHit } from "./search";

export interface FusedHit {
  ordinal: number;
  score: number;
  scores: { dense?: number; lexical?: number };
}

export type Fusion = { mode: "rrf"; k: number } | { mode: "weighted"; weight: number };

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
  return [...out.values()].sort((a, b) => b.score - a.score || a.ordinal - b.ordinal);
}

function minMax(list: DocHit[]): { lo: number; span: number } {
  let lo = Infinity, hi = -Infinity;
  for (const h of list) {
    lo = Math.min(lo, h.score);
    hi = Math.max(hi, h.score);
  }
  return { lo, span: hi - lo };
}

/**
 * Fuses the two lists; returns every document of either list, best first.
 *
 * @example
 * fuse(denseHits, lexicalHits, { mode: "rrf", k: 60 }).slice(0, 10);
 */
export function fuse(dense: DocHit[], lexical: DocHit[], f: Fusion): FusedHit[] {
  if (f.mode === "rrf") return gather(dense, lexical, (_s, _h, rank) => 1 / (f.k + rank));
  const d = minMax(dense);
  const l = minMax(lexical);
  return gather(dense, lexical, (side, h) => {
    const { lo, span } = side === "dense" ? d : l;
    const norm = span > 0 ? (h.score - lo) / span : 1;
    return (side === "dense" ? f.weight : 1 - f.weight) * norm;
  });
}
