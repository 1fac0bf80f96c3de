"""IR metrics with the definitions of offline/eval/metrics.ts (trec_eval nDCG@k with linear gain, BEIR MRR@k,
trec_eval recall@k; ties by doc id descending), kept free of torch so that the parity test
(offline/train/tests/test_metric_parity.py, test/fixtures/metric-cases.json) runs anywhere."""

from __future__ import annotations

import math

import numpy as np


def metrics(ranked_ids, rels, k_ndcg=10, k_mrr=10, k_rec=100):
    """nDCG@k_ndcg, MRR@k_mrr and R@k_rec of one ranking; keys name the cut-offs ("nDCG@10", "MRR@10", "R@100")."""
    dcg = sum((rels.get(d, 0) / math.log2(i + 2)) for i, d in enumerate(ranked_ids[:k_ndcg]) if rels.get(d, 0) > 0)
    ideal = sorted([g for g in rels.values() if g > 0], reverse=True)[:k_ndcg]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    mrr = 0.0
    for i, d in enumerate(ranked_ids[:k_mrr]):
        if rels.get(d, 0) > 0:
            mrr = 1.0 / (i + 1)
            break
    nrel = sum(1 for g in rels.values() if g > 0)
    rec = sum(1 for d in ranked_ids[:k_rec] if rels.get(d, 0) > 0) / nrel if nrel else 0.0
    return {f"nDCG@{k_ndcg}": dcg / idcg if idcg > 0 else 0.0, f"MRR@{k_mrr}": mrr, f"R@{k_rec}": rec}


def rank(scores: np.ndarray, doc_ids, k=100):
    """Top-k doc ids by score desc, ties by doc id desc (trec_eval)."""
    k2 = min(len(doc_ids), k + 50)
    top = np.argpartition(-scores, k2 - 1)[:k2]
    return [doc_ids[i] for i in sorted(top, key=lambda i: (-float(scores[i]), _neg(doc_ids[i])))][:k]


class _neg(str):
    def __lt__(self, other):  # reverse string order for tie breaks
        return str.__gt__(self, other)


def evaluate_run(Q: np.ndarray, qids, P: np.ndarray, doc_ids, qrels):
    """Mean nDCG@10 / MRR@10 / R@100 of exact search Q @ P.T over every query of qrels (a query without a row is 0)."""
    S = Q @ P.T
    per = {}
    for r, q in enumerate(qids):
        if q in qrels:
            per[q] = metrics(rank(S[r], doc_ids), qrels[q])
    n = len([q for q in qrels])
    return {m: sum(v[m] for v in per.values()) / n for m in ["nDCG@10", "MRR@10", "R@100"]}
