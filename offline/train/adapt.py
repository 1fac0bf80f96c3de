"""Corpus adaptation: fine-tune a shipped I^3 model on one corpus alone (no queries, no qrels), export a model dir.

    python -m offline.train.adapt --corpus <corpus.jsonl> --model models/i3-scifact --out <new model dir> \
        [--steps N] [--device cpu|cuda] [--seed S] [--threads T] [--bm25-run FILE] [--pseudo FILE [--pseudo-only]]

Start: the shipped weights, read from the model dir's ONNX files (offline/train/onnx_weights.py: passage.onnx into
the I^3 passage tower, query.onnx into the USE-lite query tower). The training-only reconstruction head is not
shipped, so adaptation trains the contrastive loss alone (beta0 = 0); the learned temperature restarts at 1/20.

Data, from the corpus only: `steps * batch` pseudo-queries, each a random span of `span_min..span_max` tokens of a
passage's first `p_max_len` tokens (train.py's unlabelled pairs), its positive that passage. Hard negatives: the
union of the product's BM25 top `hard_topk` (a TREC run of the pseudo-queries, --bm25-run; `i3 adapt` makes it
with offline/eval/bm25-run.ts) and the base model's dense top `hard_topk`, minus the source passage, passages with
the same text, and passages that contain the span's text (false negatives). Without --bm25-run the negatives are
the dense ones alone. No checkpoint selection (there are no labels): the last step is exported.

Passage tower: `--passage pool` (the CPU recipe: backbone frozen, its token states computed once; the tanh layer and
the I^3 heads train) or `all` (the GPU recipe: the whole tower trains). Default: pool on the CPU, all on CUDA.
The recipe (docs/RESULTS.md, corpus adaptation) was fixed before any test set was measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from typing import Dict, List, Optional

import numpy as np
import torch

from offline.train import data
from offline.train import train as T
from offline.train.cli import CommandError, run_main

RECIPE = {  # the GPU recipe of round 4 (model.json recipe.train_args) scaled to a converged start, fixed in advance
    "batch": 32, "n_hard": 3, "hard_topk": 30, "span_min": 4, "span_max": 12,
    "lr_encoder": 1e-5, "lr_heads": 1e-4, "weight_decay": 0.01, "warmup_frac": 0.1, "grad_clip": 1.0,
    "head_dropout": 0.1, "init_logit_scale": 20.0, "q_max_len": 32, "p_max_len": 128,
}
DEFAULT_STEPS = 800


# ------------------------------------------------------------------------------------------------ corpus
def read_corpus(path: str):
    """(doc ids, passage texts) of the non-empty documents of a corpus.jsonl (or a BEIR folder holding one)."""
    if os.path.isdir(path):
        path = os.path.join(path, "corpus.jsonl")
    if not os.path.isfile(path):
        raise CommandError(f"corpus {path} not found")
    ids, texts = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                o = json.loads(line)
                text = data.passage_text(o)
                doc_id = str(o["_id"])
            except (ValueError, KeyError, TypeError) as e:
                raise CommandError(f"{path}:{n}: not a corpus line ({e})")
            if text.strip():
                ids.append(doc_id)
                texts.append(text)
    if len(ids) < 2:
        raise CommandError(f"{path}: {len(ids)} non-empty documents; adaptation needs at least 2")
    return ids, texts


def corpus_name(path: str) -> str:
    """The corpus's name for model.json: its BEIR folder's name, else its file name."""
    path = os.path.normpath(path)
    return os.path.basename(os.path.dirname(path) if os.path.basename(path) == "corpus.jsonl" else path)


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


class Pieces:
    """Token ids back to text (SentencePiece pieces joined, '▁' as a space); ids below 6 (unk, controls) dropped."""

    def __init__(self, vocab_path: str):
        with open(vocab_path, encoding="utf-8") as f:
            self.pieces = [str(p[0]) for p in json.load(f)]

    def text(self, ids: List[int]) -> str:
        return "".join(self.pieces[i] for i in ids if i >= 6).replace("\u2581", " ").strip()


def pseudo_queries(tokens: List[List[int]], n: int, rng: random.Random, pieces: Pieces) -> List[dict]:
    """n (span -> source passage) pairs: {_id, text, doc (passage index), ids (span token ids)}; spans with no text
    (all unk) are drawn again."""
    out = []
    lo, hi = RECIPE["span_min"], RECIPE["span_max"]
    while len(out) < n:
        d = rng.randrange(len(tokens))
        toks = tokens[d]
        L = rng.randint(lo, hi)
        s = rng.randint(0, max(0, len(toks) - L))
        span = toks[s: s + L]
        text = pieces.text(span)
        if text:
            out.append({"_id": f"p{len(out)}", "text": text, "doc": d, "ids": span})
    return out


def write_jsonl(path: str, rows: List[dict]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".partial", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.replace(path + ".partial", path)


def read_jsonl(path: str) -> List[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ------------------------------------------------------------------------------------------------ model
def load_base(model_dir: str, passage_mode: str):
    """The I^3 model of a shipped model dir, with its ONNX weights; heads' dropout as the recipe's."""
    from offline.train.onnx_weights import passage_tower, query_tower, read_meta

    if not os.path.isfile(os.path.join(model_dir, "model.json")):
        raise CommandError(f"model {model_dir}: no model.json (a model directory, e.g. models/i3-scifact)")
    meta = read_meta(model_dir)
    if meta.get("architecture") != "i3":
        raise CommandError(f"model {model_dir}: architecture {meta.get('architecture')!r}; adaptation needs an I^3 "
                           f"model (model.json \"architecture\": \"i3\")")
    m = passage_tower(model_dir).model
    m.query_encoder = query_tower(model_dir)
    with torch.no_grad():
        m.log_logit_scale.fill_(math.log(RECIPE["init_logit_scale"]))
    for mod in list(m.reconstructor.modules()) + list(m.interactor.modules()):
        if isinstance(mod, torch.nn.Dropout):
            mod.p = RECIPE["head_dropout"]
    T.setup_trainable(m, passage_mode)
    for p in list(m.rec_proj.parameters()) + [m.rec_bias]:
        p.requires_grad = False  # the reconstruction head is not shipped: no reconstruction loss
    return m, meta


class Passages:
    """Passage inputs of a training batch: token ids, and (pool mode) the frozen backbone's token states, computed
    once for the whole corpus."""

    def __init__(self, m, tokens: List[List[int]], mode: str, dev: str, log):
        self.tokens, self.mode, self.dev = tokens, mode, dev
        self.states: Optional[List[torch.Tensor]] = None
        if mode == "pool":
            t0 = time.time()
            self.states = [None] * len(tokens)
            enc = m.passage_encoder.eval()
            order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
            with torch.no_grad():
                for s in range(0, len(order), 64):
                    idx = order[s: s + 64]
                    x, mk = data.pad_batch([tokens[i] for i in idx])
                    st = enc.token_states(x.to(dev), mk.to(dev)).half().cpu()
                    for r, i in enumerate(idx):
                        self.states[i] = st[r, : len(tokens[i])].clone()
            log({"event": "states", "passages": len(tokens), "seconds": round(time.time() - t0, 1)})

    def batch(self, m, idx: List[int]):
        """(passage vectors [N, D], slot states) for passage indices idx."""
        x, mk = data.pad_batch([self.tokens[i] for i in idx])
        x, mk = x.to(self.dev), mk.to(self.dev)
        if self.mode == "pool":
            st = torch.zeros(len(idx), x.shape[1], self.states[idx[0]].shape[1])
            for r, i in enumerate(idx):
                st[r, : len(self.tokens[i])] = self.states[i].float()
            st = st.to(self.dev)
        else:
            st = m.passage_encoder.token_states(x, mk)
        return m.passage_from_states(st, mk)

    @torch.no_grad()
    def vectors(self, m) -> np.ndarray:
        out = np.zeros((len(self.tokens), 512), dtype=np.float32)
        order = sorted(range(len(self.tokens)), key=lambda i: -len(self.tokens[i]))
        for s in range(0, len(order), 128):
            idx = order[s: s + 128]
            out[idx] = self.batch(m, idx)[0].float().cpu().numpy()
        return out


# ------------------------------------------------------------------------------------------------ mining
def mine(m, passages: Passages, queries: List[dict], texts: List[str], doc_ids: List[str],
         bm25: Optional[Dict[str, List[str]]], dev: str) -> List[List[int]]:
    """Hard negatives of each pseudo-query: BM25 top-k and the base model's dense top-k, false negatives removed."""
    k = RECIPE["hard_topk"]
    m.eval()
    P = passages.vectors(m)
    Q = data.encode_tokens(m.encode_query, [q["ids"] for q in queries], dev)
    m.train()
    ord_of = {d: i for i, d in enumerate(doc_ids)}
    normed = [_norm(t) for t in texts]
    out = []
    for r, q in enumerate(queries):
        dense = np.argsort(-(P @ Q[r]))[: k + 1].tolist()
        lexical = [ord_of[d] for d in (bm25 or {}).get(q["_id"], [])[: k + 1] if d in ord_of]
        span, src = _norm(q["text"]), normed[q["doc"]]
        negs = [i for i in dict.fromkeys(lexical + dense) if normed[i] != src and span not in normed[i]]
        out.append(negs)
    return out


def false_negative_mask(rows: List[dict], cols: List[int], targets: List[int], normed: List[str]) -> torch.Tensor:
    """[rows, cols] True where a column other than the row's target is its source passage or contains its span."""
    fn = torch.zeros(len(rows), len(cols), dtype=torch.bool)
    for r, q in enumerate(rows):
        span = _norm(q["text"])
        for c, d in enumerate(cols):
            if c != targets[r] and (d == q["doc"] or span in normed[d]):
                fn[r, c] = True
    return fn


# ------------------------------------------------------------------------------------------------ train
def train(m, passages: Passages, queries: List[dict], negatives: List[List[int]], texts: List[str], steps: int,
          rng: random.Random, dev: str, log) -> dict:
    R = RECIPE
    normed = [_norm(t) for t in texts]
    enc, heads = T.setup_trainable(m, passages.mode)  # as load_base set them; the reconstruction head stays frozen
    opt = torch.optim.AdamW([{"params": enc, "lr": R["lr_encoder"], "base_lr": R["lr_encoder"]},
                             {"params": heads, "lr": R["lr_heads"], "base_lr": R["lr_heads"]}],
                            weight_decay=R["weight_decay"])
    warmup = max(1, int(R["warmup_frac"] * steps))
    m.train()
    t0, first, last = time.time(), None, None
    for step in range(1, steps + 1):
        f = T.lr_factor(step, warmup, steps)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * f
        rows = queries[(step - 1) * R["batch"]: step * R["batch"]]
        negs_of = negatives[(step - 1) * R["batch"]: step * R["batch"]]
        cols, targets = [], []
        for q, negs in zip(rows, negs_of):
            targets.append(len(cols))
            cols.append(q["doc"])
            cols += rng.sample(negs, min(R["n_hard"], len(negs)))
        qx, qm = data.pad_batch([q["ids"] for q in rows])
        qv = m.encode_query(qx.to(dev), qm.to(dev))
        pv = passages.batch(m, cols)[0]
        loss = T.contrastive_loss(qv, pv, torch.tensor(targets, device=dev),
                                  false_negative_mask(rows, cols, targets, normed).to(dev), m.logit_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(enc + heads, R["grad_clip"])
        opt.step()
        last = loss.item()
        first = last if first is None else first
        if step == 1 or step % 10 == 0 or step == steps:
            log({"event": "train", "step": step, "steps": steps, "loss": round(last, 4),
                 "scale": round(m.logit_scale.item(), 2), "lr_f": round(f, 3), "elapsed": round(time.time() - t0, 1)})
    m.eval()
    return {"firstLoss": round(first, 4), "lastLoss": round(last, 4), "seconds": round(time.time() - t0, 1)}


# ------------------------------------------------------------------------------------------------ export
def export(m, base_meta: dict, out: str, name: str, adaptation: dict, check_texts: List[str]) -> dict:
    """The adapted model dir (export.py's I^3 export); the base model's fusion defaults are kept, not retuned. The edge query model is int8, or fp16 where int8's cosine to
    fp32 is below export.py's bar (adapted query towers can be less int8-friendly: npl's was, 0.9943)."""
    from offline.train.export import export_i3, write_sidecar

    recipe = {"adaptedFrom": base_meta.get("name"), "train_args": base_meta.get("recipe", {}).get("train_args", {}),
              "adapt": adaptation}
    meta = export_i3(m.cpu().float(), out, name, RECIPE["q_max_len"], RECIPE["p_max_len"], recipe, {}, check_texts,
                     edge_fallback=True)
    for k in ("fusion", "pseudoFusion"):
        if k in base_meta:
            meta[k] = base_meta[k]
    meta["source"] = f"{base_meta.get('name')} adapted to one corpus without labels by offline/train/adapt.py " \
                     f"(`i3 adapt`); fusion defaults are the base model's; see docs/RESULTS.md, corpus adaptation"
    write_sidecar(out, meta)
    return meta


# ------------------------------------------------------------------------------------------------ command line
def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m offline.train.adapt", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="corpus.jsonl (BEIR: _id, title, text) or a folder holding one")
    ap.add_argument("--model", required=True, help="the base model dir (an I^3 model, e.g. models/i3-scifact)")
    ap.add_argument("--out", required=True, help="the adapted model dir to write")
    ap.add_argument("--name", default=None, help="model.json name (default: the --out folder's name)")
    ap.add_argument("--steps", type=int, default=None, help=f"default {DEFAULT_STEPS} (on the CPU and on CUDA)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--passage", choices=["pool", "all"], default=None,
                    help="pool: frozen passage backbone (default on the CPU); all: the whole tower trains (CUDA)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--bm25-run", default=None, help="TREC run of the product's BM25 for the pseudo-queries")
    ap.add_argument("--pseudo", default=None, help="pseudo-query file: written with --pseudo-only, else read if given")
    ap.add_argument("--pseudo-only", action="store_true", help="write the pseudo-queries to --pseudo and stop")
    return ap


def main(argv=None) -> None:
    from offline.train.mine import read_run
    from offline.train.model import pick_device, seed_everything

    a = parser().parse_args(argv)
    if a.pseudo_only and not a.pseudo:
        raise CommandError("--pseudo-only needs --pseudo FILE")
    if a.steps is not None and a.steps < 1:
        raise CommandError(f"--steps must be >= 1, got {a.steps}")
    dev = pick_device(a.device)
    torch.set_num_threads(a.threads)
    seed_everything(a.seed)
    steps = a.steps or DEFAULT_STEPS
    mode = a.passage or ("all" if dev.startswith("cuda") else "pool")
    log = lambda o: print(json.dumps(o), flush=True)  # noqa: E731

    doc_ids, texts = read_corpus(a.corpus)
    tokens = data.encode_texts(texts, RECIPE["p_max_len"])
    rng = random.Random(a.seed)
    n = steps * RECIPE["batch"]
    if a.pseudo and not a.pseudo_only and os.path.exists(a.pseudo):
        queries = read_jsonl(a.pseudo)
        if len(queries) < n:
            raise CommandError(f"{a.pseudo}: {len(queries)} pseudo-queries, {steps} steps need {n}")
    else:
        queries = pseudo_queries(tokens, n, rng, Pieces(data.VOCAB))
    if a.pseudo_only:
        write_jsonl(a.pseudo, queries)
        log({"event": "pseudo", "queries": len(queries), "docs": len(doc_ids), "file": a.pseudo})
        return
    m, base_meta = load_base(a.model, mode)
    m.to(dev)
    log({"event": "start", "docs": len(doc_ids), "queries": len(queries), "steps": steps, "device": dev,
         "passage": mode, "seed": a.seed, "bm25": bool(a.bm25_run)})
    passages = Passages(m, tokens, mode, dev, log)
    t0 = time.time()
    negatives = mine(m, passages, queries, texts, doc_ids, read_run(a.bm25_run) if a.bm25_run else None, dev)
    log({"event": "mined", "meanNegatives": round(float(np.mean([len(x) for x in negatives])), 1),
         "seconds": round(time.time() - t0, 1)})
    result = train(m, passages, queries, negatives, texts, steps, rng, dev, log)
    adaptation = {"corpus": corpus_name(a.corpus), "docs": len(doc_ids), "steps": steps,
                  "pseudoQueries": len(queries), "device": dev, "passage": mode, "seed": a.seed,
                  "negatives": "bm25+dense" if a.bm25_run else "dense", "recipe": RECIPE, **result}
    name = a.name or os.path.basename(os.path.normpath(a.out))
    meta = export(m, base_meta, a.out, name, adaptation, [q["text"] for q in queries[:200]])
    log({"event": "done", "out": a.out, "name": name, "parity": meta["parity"],
         "edgeQuery": meta["edgeQuery"], "edgeQueryCosineMin": meta["edgeQueryVariants"][meta["edgeQuery"]]["cosineToFp32"]["min"],
         **result})


if __name__ == "__main__":
    run_main(main)
