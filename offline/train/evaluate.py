"""Python evaluator: exact search over the frozen-backbone state caches, scored by offline/train/metrics.py (the metric
definitions of offline/eval/metrics.ts, checked against the same fixture: test/fixtures/metric-cases.json).

    python -m offline.train.evaluate --ckpt runs/i3-s0/ckpt.pt [--ckpt ...] [--zero-shot] [--data scifact,npl,...]
        -> prints one JSON line per (model, dataset) and writes runs/eval/<tag>.json

Passages are encoded from the cached pretrained token states when the checkpoint froze the passage backbone
(train_passage=pool|none) and the state cache exists (the CPU recipe); otherwise (train_passage=all, the GPU recipe, or
no state cache) the whole passage tower runs over the token ids (--device cuda when there is a GPU). The shipped model
is also evaluated with `npm run eval` on its ONNX files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

from offline.train import data
from offline.train.cli import run_main
from offline.train.metrics import evaluate_run, metrics, rank  # noqa: F401  (the metric definitions, shared with train.py and wise.py)


@torch.no_grad()
def passage_vectors(model, cache, batch=128):
    out = []
    for s in range(0, len(cache), batch):
        st, m = cache.batch(list(range(s, min(len(cache), s + batch))))
        out.append(model.passage_from_states(st, m)[0].float().numpy())
    return np.concatenate(out)


class ZeroShot(torch.nn.Module):
    def __init__(self):
        super().__init__()
        from offline.train.use_lite import UseLite, default_tfjs_dir
        self.enc = UseLite.from_tfjs(default_tfjs_dir()).eval()

    def passage_from_states(self, st, m):
        return self.enc.l2_normalize(self.enc.pool(st, m)), None

    def encode_query(self, x, m):
        return self.enc(x, m)

    def encode_passage(self, x, m):
        return self.enc(x, m)


def evaluate_model(model, datasets, q_max_len, frozen_passage=True, device="cpu"):
    """frozen_passage: the checkpoint's passage backbone is the pretrained one, so cached states may stand in for it."""
    model.eval().to(device)
    res = {}
    for name in datasets:
        qrels = data.load_eval_qrels(name)
        queries = data.load_queries(name)
        qids = [q for q in queries if q in qrels]
        if frozen_passage and data.has_state_cache(name):
            cache = data.StateCache(name)
            P = passage_vectors(model.cpu(), cache)
            model.to(device)
        else:
            cache = data.TokenCache(name)
            P = data.encode_tokens(model.encode_passage, cache.tokens, device)
        Q = data.encode_tokens(model.encode_query, data.encode_texts([queries[q] for q in qids], q_max_len), device)
        res[name] = evaluate_run(Q, qids, P, cache.doc_ids, qrels)
    return res


def table(rows=(("zero-shot USE-lite", ["zero-shot"]), ("dual encoder (vanilla)", ["dual-s0", "dual-s1", "dual-s2"]),
                 ("I^3", ["i3-s0", "i3-s1", "i3-s2"]))):
    """Markdown ablation table from runs/eval/*.json: mean +- sample std over seeds (and the min..max range)."""
    loaded = [(label, [json.load(open(os.path.join(data.REPO, "runs", "eval", f"{n}.json")))["results"] for n in names])
              for label, names in rows]
    sets = [d for d in data.CORPORA if all(d in r for _, res in loaded for r in res)]
    out = ["| model | " + " | ".join(f"{d} {m}" for d in sets for m in ("nDCG@10", "MRR@10", "R@100")) + " |",
           "|---|" + "---|" * (3 * len(sets))]
    for label, res in loaded:
        cells = []
        for d in sets:
            for m in ("nDCG@10", "MRR@10", "R@100"):
                v = np.array([r[d][m] for r in res])
                cells.append(f"{v.mean():.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    if sys.argv[1:2] == ["--table"]:  # --table [run-name infix, e.g. "-long"]
        x = sys.argv[2] if len(sys.argv) > 2 else ""
        rows = [("zero-shot USE-lite", ["zero-shot"]),
                ("dual encoder (vanilla)", [f"dual{x}-s{i}" for i in range(3)]),
                ("I^3", [f"i3{x}-s{i}" for i in range(3)]),
                ("I^3 without reconstruction loss", [f"i3-norec{x}-s{i}" for i in range(3)])]
        rows += [(f"{label}, WiSE-FT alpha {a}", [f"{n}-wise{a}" for n in names])
                 for a in ("0.25", "0.5", "0.75") for label, names in rows[1:]]
        have = lambda n: os.path.exists(os.path.join(data.REPO, "runs", "eval", f"{n}.json"))  # noqa: E731
        print(table([(label, names) for label, names in rows if all(have(n) for n in names)]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", action="append", default=[])
    ap.add_argument("--zero-shot", action="store_true")
    ap.add_argument("--data", default=",".join(data.CORPORA))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    data.add_data_root_flag(ap)
    a = ap.parse_args()
    data.set_data_root(a.data_root)
    torch.set_num_threads(a.threads)
    from offline.train.model import load_checkpoint, pick_device
    device = pick_device(a.device)
    datasets = a.data.split(",")
    os.makedirs(os.path.join(data.REPO, "runs", "eval"), exist_ok=True)
    todo = ([("zero-shot", None)] if a.zero_shot else []) + [(c, c) for c in a.ckpt]
    for tag, path in todo:
        if path is None:
            model, qlen, frozen = ZeroShot(), 128, True
            out_name = "zero-shot"
        else:
            model, ck = load_checkpoint(path)
            qlen = ck.get("train_args", {}).get("q_max_len", 32)
            frozen = ck.get("train_args", {}).get("train_passage", "pool") != "all"
            out_name = os.path.basename(os.path.dirname(os.path.abspath(path)))
        res = evaluate_model(model, datasets, qlen, frozen, device)
        print(json.dumps({"model": out_name, **res}), flush=True)
        with open(os.path.join(data.REPO, "runs", "eval", f"{out_name}.json"), "w") as f:
            json.dump({"model": out_name, "ckpt": path, "results": res}, f, indent=1)


if __name__ == "__main__":
    run_main(main)
