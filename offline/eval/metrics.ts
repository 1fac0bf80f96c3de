/**
 * IR metrics with trec_eval / pytrec_eval semantics, as BEIR reports them.
 *
 * - Ranking: a run is re-sorted the way trec_eval does it: score descending, ties broken by document id in
 *   *descending* string order (trec_eval's comp_sim_docno), duplicates dropped (first kept). `sortHits` is
 *   applied before evaluating and before writing a TREC file, so the file and the printed numbers agree.
 * - nDCG@k (trec_eval ndcg_cut.k): gain = relevance grade (linear; grades <= 0 give 0), discount
 *   1/log2(rank + 1) with rank from 1, ideal DCG from all judged docs of the query sorted by grade. A query
 *   with no relevant doc scores 0.
 * - MRR@k (BEIR's custom "mrr"): 1/rank of the first doc with grade > 0 within the top k, else 0.
 * - Recall@k (trec_eval recall.k): relevant (grade > 0) docs in the top k / all relevant docs of the query;
 *   0 when the query has no relevant doc.
 * - Averages are over every query that has qrels in the split (a query with qrels but an empty or missing
 *   ranking counts as 0, like `trec_eval -c`). Queries without qrels are not evaluated.
 */

export interface Hit {
  id: string;
  score: number;
}
/** run[queryId] = ranked hits */
export type Run = Map<string, Hit[]>;
/** qrels[queryId][docId] = grade */
export type Qrels = Map<string, Map<string, number>>;

/** trec_eval order: score desc, then doc id desc (byte order); duplicates removed (first occurrence kept). */
export function sortHits(hits: readonly Hit[]): Hit[] {
  const seen = new Set<string>();
  const out: Hit[] = [];
  for (const h of hits) {
    if (seen.has(h.id)) continue;
    seen.add(h.id);
    out.push(h);
  }
  return out.sort((a, b) => (b.score !== a.score ? b.score - a.score : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** hits must already be in rank order (use sortHits). */
export function ndcgAt(hits: readonly Hit[], rels: ReadonlyMap<string, number>, k: number): number {
  let dcg = 0;
  const n = Math.min(k, hits.length);
  for (let i = 0; i < n; i++) {
    const g = rels.get(hits[i].id) ?? 0;
    if (g > 0) dcg += g / Math.log2(i + 2);
  }
  const ideal = [...rels.values()].filter((g) => g > 0).sort((a, b) => b - a);
  let idcg = 0;
  for (let i = 0; i < Math.min(k, ideal.length); i++) idcg += ideal[i] / Math.log2(i + 2);
  return idcg > 0 ? dcg / idcg : 0;
}

export function mrrAt(hits: readonly Hit[], rels: ReadonlyMap<string, number>, k: number): number {
  const n = Math.min(k, hits.length);
  for (let i = 0; i < n; i++) if ((rels.get(hits[i].id) ?? 0) > 0) return 1 / (i + 1);
  return 0;
}

export function recallAt(hits: readonly Hit[], rels: ReadonlyMap<string, number>, k: number): number {
  let nrel = 0;
  for (const g of rels.values()) if (g > 0) nrel++;
  if (nrel === 0) return 0;
  let found = 0;
  const n = Math.min(k, hits.length);
  for (let i = 0; i < n; i++) if ((rels.get(hits[i].id) ?? 0) > 0) found++;
  return found / nrel;
}

export interface QueryScores {
  "nDCG@10": number;
  "MRR@10": number;
  "R@100": number;
  "R@1000": number;
}
export const METRICS: Array<keyof QueryScores> = ["nDCG@10", "MRR@10", "R@100", "R@1000"];

export function scoreQuery(hits: readonly Hit[], rels: ReadonlyMap<string, number>): QueryScores {
  const h = sortHits(hits);
  return {
    "nDCG@10": ndcgAt(h, rels, 10),
    "MRR@10": mrrAt(h, rels, 10),
    "R@100": recallAt(h, rels, 100),
    "R@1000": recallAt(h, rels, 1000),
  };
}

export interface Evaluation {
  mean: QueryScores;
  perQuery: Map<string, QueryScores>;
  /** queries with qrels that were evaluated */
  evaluated: number;
  /** queries with qrels but no ranking in the run (scored 0) */
  missingFromRun: number;
  /** queries with qrels whose judged docs are all grade <= 0 */
  noRelevant: number;
}

/**
 * Evaluates `run` on the queries of `qrels` (or on `only`, a subset of qrels' query ids, e.g. after
 * --queries-limit). Run entries for queries without qrels are ignored.
 */
export function evaluate(run: Run, qrels: Qrels, only?: Iterable<string>): Evaluation {
  const qids = only ? [...only].filter((q) => qrels.has(q)) : [...qrels.keys()];
  const perQuery = new Map<string, QueryScores>();
  const sum: QueryScores = { "nDCG@10": 0, "MRR@10": 0, "R@100": 0, "R@1000": 0 };
  let missingFromRun = 0;
  let noRelevant = 0;
  for (const q of qids) {
    const rels = qrels.get(q)!;
    if (![...rels.values()].some((g) => g > 0)) noRelevant++;
    const hits = run.get(q);
    if (!hits || hits.length === 0) missingFromRun++;
    const s = scoreQuery(hits ?? [], rels);
    perQuery.set(q, s);
    for (const m of METRICS) sum[m] += s[m];
  }
  const n = qids.length;
  const mean = { ...sum };
  for (const m of METRICS) mean[m] = n > 0 ? sum[m] / n : 0;
  return { mean, perQuery, evaluated: n, missingFromRun, noRelevant };
}

/**
 * Overlap of two runs: for each query present in both, |top k of a ∩ top k of b| / min(k, |top k of b|),
 * averaged ("recall@k of run a against run b's top k"; b is the reference, e.g. exact float32 search).
 */
export function overlapAt(a: Run, b: Run, k: number): { mean: number; queries: number } {
  let sum = 0;
  let n = 0;
  for (const [q, hb] of b) {
    const ha = a.get(q);
    if (!ha) continue;
    const ref = sortHits(hb).slice(0, k);
    if (ref.length === 0) continue;
    const top = new Set(sortHits(ha).slice(0, k).map((h) => h.id));
    let c = 0;
    for (const h of ref) if (top.has(h.id)) c++;
    sum += c / ref.length;
    n++;
  }
  return { mean: n > 0 ? sum / n : 0, queries: n };
}
