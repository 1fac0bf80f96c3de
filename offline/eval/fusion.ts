/**
 * Run fusion (for a later hybrid dense + lexical mode).
 *  - rrf: reciprocal rank fusion, score(d) = sum over runs of 1 / (k + rank_r(d)), rank from 1 in trec_eval
 *    order; a doc absent from a run gets nothing from it (Cormack et al. 2009, k = 60).
 *  - weighted: per query, each run's scores min-max normalized to [0, 1] (all-equal scores -> 1), then
 *    sum of weight_r * normalized score; a doc absent from a run gets 0 from it.
 * Both return runs whose hits are sorted (score desc, trec_eval tie order).
 */
import { sortHits, type Hit, type Run } from "./metrics.ts";

function queryIds(runs: readonly Run[]): string[] {
  const s = new Set<string>();
  for (const r of runs) for (const q of r.keys()) s.add(q);
  return [...s];
}

export function rrf(runs: readonly Run[], k = 60): Run {
  if (!(k >= 0)) throw new Error(`rrf: k must be >= 0, got ${k}`);
  const out: Run = new Map();
  for (const q of queryIds(runs)) {
    const acc = new Map<string, number>();
    for (const r of runs) {
      sortHits(r.get(q) ?? []).forEach((h, i) => acc.set(h.id, (acc.get(h.id) ?? 0) + 1 / (k + i + 1)));
    }
    out.set(q, sortHits([...acc].map(([id, score]) => ({ id, score }))));
  }
  return out;
}

export function weighted(runs: readonly Run[], weights: readonly number[]): Run {
  if (weights.length !== runs.length) throw new Error(`weighted: ${runs.length} runs but ${weights.length} weights`);
  const out: Run = new Map();
  for (const q of queryIds(runs)) {
    const acc = new Map<string, number>();
    runs.forEach((r, ri) => {
      const hits: Hit[] = sortHits(r.get(q) ?? []);
      if (hits.length === 0) return;
      let lo = Infinity;
      let hi = -Infinity;
      for (const h of hits) {
        lo = Math.min(lo, h.score);
        hi = Math.max(hi, h.score);
      }
      for (const h of hits) {
        const norm = hi > lo ? (h.score - lo) / (hi - lo) : 1;
        acc.set(h.id, (acc.get(h.id) ?? 0) + weights[ri] * norm);
      }
    });
    out.set(q, sortHits([...acc].map(([id, score]) => ({ id, score }))));
  }
  return out;
}
