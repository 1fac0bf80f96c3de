"""Weight-space ensembles of a fine-tuned model and the model it started from (WiSE-FT, Wortsman et al., "Robust
fine-tuning of zero-shot models", CVPR 2022):

    theta(alpha) = (1 - alpha) * theta_0 + alpha * theta_ft

theta_0 is exactly what train.py built before step 1: the pretrained USE-lite towers and the seed's head
initialisation (re-created from the checkpoint's train_args). Its interactor's output projections are zero, so
theta_0 IS the zero-shot model and alpha slides from zero-shot (0) to the fine-tuned model (1). Fine-tuning on one
domain (SciFact) moves the weights towards that domain; interpolating keeps most of the in-domain gain and gives back
out-of-domain accuracy. No labels are needed to build it; alpha is fixed a priori (0.5, the paper's default) rather
than tuned on any test set.

    python -m offline.train.wise --ckpt runs/i3-gpu-s1/ckpt.pt --alpha 0.5 [--out PATH] [--eval] [--device cuda]
        --out  writes the interpolated checkpoint (same format as train.py's; `offline.train.export i3` takes it)
        --eval evaluates it on the four test sets and on the SciFact dev split (train queries) -> runs/eval/<name>.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

from offline.train import data
from offline.train.cli import run_main
from offline.train.evaluate import evaluate_model, evaluate_run
from offline.train.model import build, load_checkpoint, pick_device, seed_everything


def initial_model(ck: dict):
    """The model train.py started from: same seed, same builder, same head arguments."""
    a = ck["train_args"]
    seed_everything(a["seed"])
    return build(a["model"], pretrained=True, n_slots=a["n_slots"], n_recon_layers=a["n_recon_layers"],
                 n_inter_layers=a["n_inter_layers"], dropout=a["head_dropout"], ffn_dim=a["head_ffn_dim"],
                 attn_dim=a["head_attn_dim"])


@torch.no_grad()
def interpolate(model_ft, model_0, alpha: float):
    """model_ft's weights become (1 - alpha) * model_0 + alpha * model_ft (in place); returns model_ft."""
    s0 = model_0.state_dict()
    for k, v in model_ft.state_dict().items():
        if v.is_floating_point():
            v.copy_((1.0 - alpha) * s0[k].to(v.dtype) + alpha * v)
    return model_ft


def wise(ckpt_path: str, alpha: float):
    model, ck = load_checkpoint(ckpt_path)
    interpolate(model, initial_model(ck), alpha)
    return model, ck


@torch.no_grad()
def dev_full(model, device, q_max_len):
    """nDCG@10 / MRR@10 / R@100 of the SciFact dev split (held-out TRAIN queries) over the whole corpus."""
    _, dev_q = data.scifact_train_dev()
    queries = data.load_queries("scifact")
    cache = data.TokenCache("scifact")
    P = data.encode_tokens(model.encode_passage, cache.tokens, device)
    qids = sorted(dev_q)
    Q = data.encode_tokens(model.encode_query, data.encode_texts([queries[q] for q in qids], q_max_len), device)
    return evaluate_run(Q, qids, P, cache.doc_ids, dev_q)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", action="append", required=True)
    ap.add_argument("--alpha", type=float, action="append", required=True)
    ap.add_argument("--out", default="", help="write the interpolated checkpoint (one --ckpt, one --alpha)")
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--data", default=",".join(data.CORPORA))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    data.add_data_root_flag(ap)
    a = ap.parse_args()
    data.set_data_root(a.data_root)
    torch.set_num_threads(a.threads)
    device = pick_device(a.device)
    if a.out and (len(a.ckpt) != 1 or len(a.alpha) != 1):
        sys.exit("wise.py: --out takes exactly one --ckpt and one --alpha")
    os.makedirs(os.path.join(data.REPO, "runs", "eval"), exist_ok=True)
    for path in a.ckpt:
        for alpha in a.alpha:
            if not 0.0 <= alpha <= 1.0:
                sys.exit(f"wise.py: --alpha must be in [0, 1], got {alpha}")
            model, ck = wise(path, alpha)
            name = f"{os.path.basename(os.path.dirname(os.path.abspath(path)))}-wise{alpha:g}"
            if a.out:
                os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
                model.save(a.out, train_args=ck["train_args"], step=ck.get("step"), dev=ck.get("dev"),
                           wise={"alpha": alpha, "from": path})
                print(f"wrote {a.out} ({name})")
            if a.eval:
                qlen = ck["train_args"].get("q_max_len", 32)
                res = evaluate_model(model, a.data.split(","), qlen, frozen_passage=False, device=device)
                res["scifact-dev"] = dev_full(model.to(device).eval(), device, qlen)
                print(json.dumps({"model": name, **res}), flush=True)
                with open(os.path.join(data.REPO, "runs", "eval", f"{name}.json"), "w") as f:
                    json.dump({"model": name, "ckpt": path, "alpha": alpha, "results": res}, f, indent=1)


if __name__ == "__main__":
    run_main(main)
