"""offline/train/metrics.py (what evaluate.py, train.py and wise.py score with) against test/fixtures/metric-cases.json,
the cases offline/eval/metrics.ts is checked against too (test/offline/eval/metrics.test.ts).
Run: python3 -m pytest -q offline/train/tests/test_metric_parity.py"""
import json
import os

import numpy as np
import pytest

from offline.train.metrics import evaluate_run, metrics, rank

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
with open(os.path.join(ROOT, "test", "fixtures", "metric-cases.json"), encoding="utf-8") as f:
    CASES = json.load(f)["cases"]


def mean_metrics(case):
    """Every metric of the fixture, averaged over the queries of qrels (a query the run lacks scores 0)."""
    sums = dict.fromkeys(["nDCG@10", "MRR@10", "R@100", "R@1000"], 0.0)
    for q, rels in case["qrels"].items():
        hits = case["run"].get(q, [])
        ranked = rank(np.array([s for _, s in hits]), [d for d, _ in hits], k=1000) if hits else []
        m = {**metrics(ranked, rels), **metrics(ranked, rels, k_rec=1000)}
        for k in sums:
            sums[k] += m[k]
    return {k: v / len(case["qrels"]) for k, v in sums.items()}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_metrics_match_the_fixture(case):
    got = mean_metrics(case)
    for m, want in case["expected"].items():
        assert got[m] == pytest.approx(want, abs=1e-9), m


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_evaluate_run_matches_the_fixture(case):
    # The run as exact search: one row per query over every doc of the case (identity passages), a doc the query's
    # run lacks far below the rest. Valid because no query's relevant doc is missing from its own run yet present in
    # another's.
    docs = sorted({d for hits in case["run"].values() for d, _ in hits})
    col = {d: i for i, d in enumerate(docs)}
    qids = list(case["run"])
    Q = np.full((len(qids), len(docs)), -1e30)
    for r, q in enumerate(qids):
        own = {d for d, _ in case["run"][q]}
        assert not any(d in col and d not in own for d in case["qrels"].get(q, {})), "fixture breaks the premise"
        for d, s in case["run"][q]:
            Q[r, col[d]] = s
    got = evaluate_run(Q, qids, np.eye(len(docs)), docs, case["qrels"])
    for m in ["nDCG@10", "MRR@10", "R@100"]:
        assert got[m] == pytest.approx(case["expected"][m], abs=1e-9), m
