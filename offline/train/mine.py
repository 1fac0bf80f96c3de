"""Hard-negative mining for the SciFact TRAIN queries (train + dev split), positives excluded.

    npm run i3 -- eval --data <I3_DATA>/scifact --split train --model bm25 --k 100 --run runs/mine/scifact-train-bm25.trec
    python -m offline.train.mine [--device cpu|cuda] [--data-root DIR] [--bm25-run FILE]
        -> runs/mine/scifact-train.json {qid: {"bm25": [doc idx], "dense": [doc idx]}}

- BM25: the product's own BM25 (src/search/bm25.ts through `i3 eval --model bm25`: the worker's analyzer, Lucene
  scoring), read from its TREC run: one implementation of BM25, not a Python copy. Top `topk` docs.
- dense: the zero-shot USE-lite model (query vectors from the pretrained query tower, passage vectors = the pooled
  cached token states, i.e. exactly UseLite.forward), top `topk` docs.
Only SciFact train qrels are read (data.load_train_qrels asserts the path is not a test split).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict

import numpy as np
import torch

from offline.train import data
from offline.train.cli import run_main

BM25_RUN = os.path.join("runs", "mine", "scifact-train-bm25.trec")
BM25_COMMAND = "npm run i3 -- eval --data <I3_DATA>/scifact --split train --model bm25 --k 100 --run " + BM25_RUN


def read_run(path: str) -> dict:
    """A TREC run (`qid Q0 docid rank score tag`) as {qid: [docid, ...]} in rank order."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no BM25 run; make it with the product's BM25 first: {BM25_COMMAND}")
    ranked = defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5:
                ranked[parts[0]].append((int(parts[3]), parts[2]))
    return {q: [d for _, d in sorted(hits)] for q, hits in ranked.items()}


def topk_excluding(scores: np.ndarray, k: int, exclude: set):
    order = np.argsort(-scores, kind="stable")[: k + len(exclude)]
    return [int(i) for i in order if int(i) not in exclude][:k]


@torch.no_grad()
def zero_shot_passage_vectors(cache: "data.StateCache", encoder, batch: int = 256) -> np.ndarray:
    out = []
    for s in range(0, len(cache), batch):
        st, m = cache.batch(list(range(s, min(len(cache), s + batch))))
        out.append(encoder.l2_normalize(encoder.pool(st, m)).numpy())
    return np.concatenate(out)


@torch.no_grad()
def main(topk: int = 50, device: str = "auto", bm25_run: str = BM25_RUN):
    torch.set_num_threads(2)
    from offline.train.model import pick_device
    from offline.train.use_lite import UseLite, default_tfjs_dir
    device = pick_device(device)
    train, dev = data.scifact_train_dev()
    qrels = {**train, **dev}
    queries = data.load_queries("scifact")
    doc_ids, texts = data.load_corpus("scifact")
    pos_of = {d: i for i, d in enumerate(doc_ids)}
    bm25 = read_run(os.path.join(data.REPO, bm25_run) if not os.path.isabs(bm25_run) else bm25_run)
    enc = UseLite.from_tfjs(default_tfjs_dir()).eval().to(device)
    if data.has_state_cache("scifact"):  # the CPU recipe's pooled cached states: the same vectors, much cheaper
        cache = data.StateCache("scifact")
        assert cache.doc_ids == doc_ids
        P = zero_shot_passage_vectors(cache, enc.cpu())
        enc.to(device)
    else:  # no state cache (the GPU recipe): run the backbone over the tokens
        cache = data.TokenCache("scifact")
        assert cache.doc_ids == doc_ids
        P = data.encode_tokens(enc, cache.tokens, device)
    qids = sorted(qrels)
    qtok = data.encode_texts([queries[q] for q in qids], 32)
    Q = data.encode_tokens(enc, qtok, device)
    dense = Q @ P.T
    out = {}
    hits_bm, hits_de = 0, 0
    for r, q in enumerate(qids):
        pos = {pos_of[d] for d, g in qrels[q].items() if g > 0 and d in pos_of}
        if q not in bm25:
            raise ValueError(f"query {q} is not in the BM25 run {bm25_run}: make it with --split train ({BM25_COMMAND})")
        ranked = [pos_of[d] for d in bm25[q] if d in pos_of]
        hits_bm += len(pos & set(ranked[:topk])) / max(1, len(pos))
        hits_de += len(pos & set(np.argsort(-dense[r])[:topk].tolist())) / max(1, len(pos))
        out[q] = {"bm25": [i for i in ranked if i not in pos][:topk], "dense": topk_excluding(dense[r], topk, pos)}
    os.makedirs(os.path.join(data.REPO, "runs", "mine"), exist_ok=True)
    path = os.path.join(data.REPO, "runs", "mine", "scifact-train.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"mined {len(out)} queries -> {path}; positives in top{topk}: bm25 {hits_bm / len(qids):.3f} "
          f"dense {hits_de / len(qids):.3f}")


def cli() -> None:
    ap = argparse.ArgumentParser(description="Hard negatives for the SciFact train queries -> runs/mine/scifact-train.json")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--bm25-run", default=BM25_RUN, help=f"TREC run of the product's BM25 on the train queries (default {BM25_RUN}; made by: {BM25_COMMAND})")
    data.add_data_root_flag(ap)
    a = ap.parse_args()
    data.set_data_root(a.data_root)
    main(device=a.device, bm25_run=a.bm25_run)


if __name__ == "__main__":
    run_main(cli)
