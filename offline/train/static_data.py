"""Training data of the static query tier: query texts, their token ids, the teacher's query vectors, and the
passage vectors they are scored against.

The teacher is the model's edge query tower (`model.json` `edgeQuery`, the one the worker runs, e.g.
query.int8.onnx) in onnxruntime; passages are each document's first window (`maxPassageTokens`) through the model's
passage tower. Only training-side text is read:

- MS MARCO query text (every `*.jsonl` of --msmarco-queries): no passages, distillation only;
- SciFact TRAIN queries (queries.jsonl filtered by qrels/train.tsv; test qrels are refused), positive = the first
  judged document;
- pseudo-queries: 4-12 consecutive words of a random document of each --corpora corpus (as
  offline/build/pseudo-queries.ts cuts them), positive = that document; the span starts within the first 80 words,
  so it lies inside the document's first window, the passage vector it is paired with.

Any text equal (case-folded, trimmed) to a test query of a --corpora set is dropped.

    python -m offline.train.static_data --data-root DIR --msmarco-queries DIR --model models/i3-scifact --out runs/static/data.npz
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import time
from typing import Dict, List

import numpy as np

from offline.train import data
from offline.train.cli import CommandError, run_main
from offline.train.export import ort_session
from offline.train.tokenizer import Tokenizer

SPAN_MIN, SPAN_MAX, SPAN_START_WORDS = 4, 12, 80

# Where a training text came from (the `source` column of the data file).
SOURCES = ["msmarco", "scifact-train", "pseudo"]


def read_jsonl_texts(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def pseudo_queries(texts: List[str], per_doc: int, rng: random.Random):
    """(text, document index) pairs: `per_doc` spans of SPAN_MIN..SPAN_MAX words from each document."""
    out = []
    for d, text in enumerate(texts):
        words = text.split()
        if not words:
            continue
        for _ in range(per_doc):
            n = min(len(words), rng.randint(SPAN_MIN, SPAN_MAX))
            start = rng.randint(0, max(0, min(len(words) - n, SPAN_START_WORDS)))
            out.append((" ".join(words[start: start + n]), d))
    return out


def embed_all(sess, seqs: List[List[int]], batch: int, log) -> np.ndarray:
    """[N, D] vectors of token id lists, in length-sorted batches, rows in input order."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = None
    t0 = time.time()
    for b in range(0, len(order), batch):
        idx = order[b: b + batch]
        ids, mask = data.pad_batch([seqs[i] if seqs[i] else [0] for i in idx])
        v = sess.run(["embedding"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        if out is None:
            out = np.zeros((len(seqs), v.shape[1]), dtype=np.float32)
        out[idx] = v
        if (b // batch) % 50 == 0:
            log(f"  {b + len(idx)}/{len(seqs)} in {time.time() - t0:.0f}s")
    return out


def test_query_texts(corpora: List[str]) -> set:
    """Case-folded text of every query judged in a corpus's test qrels (read only to keep them out)."""
    out = set()
    for name in corpora:
        queries, judged = data.load_queries(name), data.load_eval_qrels(name)
        out |= {queries[q].strip().lower() for q in judged if q in queries}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data.add_data_root_flag(ap)
    ap.add_argument("--msmarco-queries", required=True, help="folder of MS MARCO query *.jsonl files ({_id, text})")
    ap.add_argument("--model", required=True, help="model folder (model.json, edgeQuery, passage, vocab)")
    ap.add_argument("--corpora", default=",".join(data.CORPORA), help="corpora for pseudo-queries and passages")
    ap.add_argument("--pseudo-per-doc", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    data.set_data_root(a.data_root)
    log = lambda s: print(s, flush=True)
    meta = json.load(open(os.path.join(a.model, "model.json")))
    tok = Tokenizer.from_file(os.path.join(a.model, meta["vocab"]))
    qmax, pmax = meta["maxQueryTokens"], meta["maxPassageTokens"]
    corpora = [c for c in a.corpora.split(",") if c]
    rng = random.Random(a.seed)

    texts, sources, positives = [], [], []
    ms_files = sorted(glob.glob(os.path.join(a.msmarco_queries, "*.jsonl")))
    if not ms_files:
        raise CommandError(f"no *.jsonl in --msmarco-queries {a.msmarco_queries}")
    for f in ms_files:
        for t in read_jsonl_texts(f):
            texts.append(t), sources.append(0), positives.append(-1)

    doc_offset, passage_texts, doc_key = 0, [], {}
    for name in corpora:
        ids, ctexts = data.load_corpus(name)
        for i, d in enumerate(ids):
            doc_key[(name, d)] = doc_offset + i
        for t, d in pseudo_queries(ctexts, a.pseudo_per_doc, rng):
            texts.append(t), sources.append(2), positives.append(doc_offset + d)
        passage_texts += ctexts
        doc_offset += len(ctexts)

    if "scifact" in corpora:
        qrels = data.load_train_qrels(data.data_path("scifact", "qrels", "train.tsv"))
        queries = data.load_queries("scifact")
        for qid in sorted(qrels):
            pos = [doc_key[("scifact", d)] for d, r in sorted(qrels[qid].items()) if r > 0 and ("scifact", d) in doc_key]
            texts.append(queries[qid]), sources.append(1), positives.append(pos[0] if pos else -1)

    banned = test_query_texts(corpora)
    keep = [i for i, t in enumerate(texts) if t.strip().lower() not in banned and t.strip()]
    log(f"{len(texts)} texts, {len(texts) - len(keep)} dropped (equal to a test query or blank)")
    texts = [texts[i] for i in keep]
    sources = np.array([sources[i] for i in keep], dtype=np.int8)
    positives = np.array([positives[i] for i in keep], dtype=np.int64)

    log(f"tokenizing {len(texts)} queries and {len(passage_texts)} passages")
    qtok = [tok.encode(t)[:qmax] for t in texts]
    ptok = [tok.encode(t)[:pmax] for t in passage_texts]
    vocab_tok = [[i] for i in range(tok.vocab_size)]

    qsess = ort_session(os.path.join(a.model, meta["edgeQuery"]), a.threads)
    log(f"teacher: {meta['edgeQuery']} on {len(texts)} queries")
    qvec = embed_all(qsess, qtok, 256, log)
    log(f"teacher on each of {len(vocab_tok)} vocab tokens alone (the student's initial table)")
    tokvec = embed_all(qsess, vocab_tok, 512, log)
    psess = ort_session(os.path.join(a.model, meta["passage"]), a.threads)
    log(f"passages: {meta['passage']} on {len(ptok)} documents (first {pmax} tokens)")
    pvec = embed_all(psess, ptok, 64, log)

    lens = np.array([len(t) for t in qtok], dtype=np.int64)
    flat = np.array([i for t in qtok for i in t], dtype=np.int32)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    np.savez(a.out, texts=json.dumps(texts), sources=sources, positives=positives, lens=lens, flat=flat,
             qvec=qvec.astype(np.float16), tokvec=tokvec.astype(np.float32), pvec=pvec.astype(np.float16),
             meta=json.dumps({"teacher": meta["edgeQuery"], "passage": meta["passage"], "corpora": corpora,
                              "msmarco": [os.path.basename(f) for f in ms_files], "maxQueryTokens": qmax,
                              "vocab": tok.vocab_size, "pseudoPerDoc": a.pseudo_per_doc, "seed": a.seed}))
    log(f"wrote {a.out}")


if __name__ == "__main__":
    run_main(main)
