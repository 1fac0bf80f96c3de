"""Hard-negative mining for the SciFact TRAIN queries (train + dev split), positives excluded.

    python -m offline.train.mine [--device cpu|cuda] [--data-root DIR]   -> runs/mine/scifact-train.json {qid: {"bm25": [doc idx], "dense": [doc idx]}}

- BM25: a tiny Python BM25 with the data README's settings (k1 0.9, b 0.4, lowercased alphanumeric tokens, no
  stemming, title + text), top `topk` docs.
- dense: the zero-shot USE-lite model (query vectors from the pretrained query tower, passage vectors = the pooled
  cached token states, i.e. exactly UseLite.forward), top `topk` docs.
Only SciFact train qrels are read (data.load_train_qrels asserts the path is not a test split).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from collections import Counter, defaultdict

import numpy as np
import torch

from offline.train import data
from offline.train.cli import run_main

_TOK_RE = re.compile(r"[a-z0-9]+")


def bm25_tokens(text: str):
    return _TOK_RE.findall(text.lower())


class BM25:
    def __init__(self, texts, k1: float = 0.9, b: float = 0.4):
        self.k1, self.b = k1, b
        self.N = len(texts)
        self.postings = defaultdict(list)  # term -> [(doc, tf)]
        self.dl = np.zeros(self.N, dtype=np.float32)
        for i, t in enumerate(texts):
            toks = bm25_tokens(t)
            self.dl[i] = len(toks)
            for term, tf in Counter(toks).items():
                self.postings[term].append((i, tf))
        self.avgdl = float(self.dl.mean()) if self.N else 1.0
        self.post = {}
        for term, lst in self.postings.items():
            d = np.array([x[0] for x in lst], dtype=np.int64)
            tf = np.array([x[1] for x in lst], dtype=np.float32)
            idf = math.log(1.0 + (self.N - len(lst) + 0.5) / (len(lst) + 0.5))  # Lucene idf
            self.post[term] = (d, tf, idf)

    def scores(self, query: str) -> np.ndarray:
        s = np.zeros(self.N, dtype=np.float32)
        for term in bm25_tokens(query):  # repeated query terms count again, like Lucene's BooleanQuery
            if term not in self.post:
                continue
            d, tf, idf = self.post[term]
            norm = tf + self.k1 * (1 - self.b + self.b * self.dl[d] / self.avgdl)
            s[d] += idf * tf * (self.k1 + 1) / norm
        return s


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
def main(topk: int = 50, device: str = "auto"):
    torch.set_num_threads(2)
    from offline.train.model import pick_device
    from offline.train.use_lite import UseLite, default_tfjs_dir
    device = pick_device(device)
    train, dev = data.scifact_train_dev()
    qrels = {**train, **dev}
    queries = data.load_queries("scifact")
    doc_ids, texts = data.load_corpus("scifact")
    pos_of = {d: i for i, d in enumerate(doc_ids)}
    bm = BM25(texts)
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
        sb = bm.scores(queries[q])
        hits_bm += len(pos & set(np.argsort(-sb)[:topk].tolist())) / max(1, len(pos))
        hits_de += len(pos & set(np.argsort(-dense[r])[:topk].tolist())) / max(1, len(pos))
        out[q] = {"bm25": topk_excluding(sb, topk, pos), "dense": topk_excluding(dense[r], topk, pos)}
    os.makedirs(os.path.join(data.REPO, "runs", "mine"), exist_ok=True)
    path = os.path.join(data.REPO, "runs", "mine", "scifact-train.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"mined {len(out)} queries -> {path}; positives in top{topk}: bm25 {hits_bm / len(qids):.3f} "
          f"dense {hits_de / len(qids):.3f}")


def cli() -> None:
    ap = argparse.ArgumentParser(description="Hard negatives for the SciFact train queries -> runs/mine/scifact-train.json")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    data.add_data_root_flag(ap)
    a = ap.parse_args()
    data.set_data_root(a.data_root)
    main(device=a.device)


if __name__ == "__main__":
    run_main(cli)
