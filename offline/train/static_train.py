"""Trains the static query tier: a token table and a pooling weight per token, distilled from the model's query tower.

    v(q) = normalize( sum_i softplus(u[t_i]) * E[t_i] )          t_i: the query's token ids, first maxQueryTokens

Loss per batch (the recipe below was fixed before any test number was seen; nothing is tuned on test qrels):

- cosine to the teacher's query vector:                1 - cos(v, q_teacher)
- listwise distillation against the passage vectors:   KL( softmax(q_teacher . P / tau) || softmax(v . P / tau) ),
  P = the batch's positive passages + BANK random passage vectors of the corpora (the index's own vectors)
- contrastive, for texts with a positive passage (SciFact train queries, pseudo-queries): cross-entropy of the
  positive against P (tau).

E starts at the teacher's vector of each token alone (data file `tokvec`), u at 0. HOLDOUT of the texts (seeded)
is kept out of training and reported: cosine to the teacher, and recall@10 / MRR@10 of the positive passage among
all passage vectors, student vs teacher.

    python -m offline.train.static_train --data runs/static/data.npz --out runs/static/ckpt.pt
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from offline.train.cli import run_main
from offline.train.static_data import SOURCES

# The recipe (defaults; overridable by flags, recorded in the checkpoint).
DEFAULTS = dict(
    epochs=8,
    batch=512,
    lr=3e-3,
    warmup=100,
    bank=4096,
    tau=0.05,
    w_cos=1.0,
    w_kl=1.0,
    w_nce=0.5,
    holdout=0.02,
    seed=0,
    threads=2,
    bigram_buckets=0,  # experiment only (not exported): hashed bigram vectors added to the sum
    sources="msmarco,scifact-train,pseudo",  # training texts kept, by source (ablation); the held-out split is the same
)


class StaticQuery(torch.nn.Module):
    """Token table E [V, D] and pooling logits u [V]; forward(ids, mask) -> unit vectors [B, D]. With `bigrams` > 0
    (an experiment, not exported), hashed bigram rows [bigrams, D] (zero at start) are added for adjacent tokens."""

    def __init__(self, table: torch.Tensor, bigrams: int = 0):
        super().__init__()
        self.table = torch.nn.Parameter(table.clone())
        self.logit = torch.nn.Parameter(torch.zeros(table.shape[0]))
        self.bigrams = bigrams
        if bigrams:
            self.bigram_table = torch.nn.Parameter(torch.zeros(bigrams, table.shape[1]))

    def weights(self) -> torch.Tensor:
        return F.softplus(self.logit)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = self.weights()[ids] * mask
        v = (w.unsqueeze(-1) * self.table[ids]).sum(1)
        if self.bigrams and ids.shape[1] > 1:
            pair = (ids[:, :-1] * 1000003 + ids[:, 1:]) % self.bigrams
            v = v + ((mask[:, :-1] * mask[:, 1:]).unsqueeze(-1) * self.bigram_table[pair]).sum(1)
        return F.normalize(v, dim=-1)


def padded(flat: np.ndarray, offsets: np.ndarray, lens: np.ndarray, idx: np.ndarray):
    L = max(1, int(lens[idx].max()))
    ids = np.zeros((len(idx), L), dtype=np.int64)
    mask = np.zeros((len(idx), L), dtype=np.float32)
    for j, i in enumerate(idx):
        n = int(lens[i])
        ids[j, :n] = flat[offsets[i]: offsets[i] + n]
        mask[j, :n] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def load(path: str):
    z = np.load(path)
    d = {k: z[k] for k in ("sources", "positives", "lens", "flat")}
    d["qvec"] = torch.from_numpy(z["qvec"].astype(np.float32))
    d["pvec"] = torch.from_numpy(z["pvec"].astype(np.float32))
    d["tokvec"] = torch.from_numpy(z["tokvec"])
    d["offsets"] = np.concatenate([[0], np.cumsum(d["lens"])])
    d["meta"] = json.loads(str(z["meta"]))
    return d


def split(n: int, frac: float, seed: int):
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(frac * n))
    return np.sort(perm[k:]), np.sort(perm[:k])


def batch_loss(model, d, idx, cfg, gen):
    ids, mask = padded(d["flat"], d["offsets"], d["lens"], idx)
    s = model(ids, mask)
    t = d["qvec"][idx]
    pos = d["positives"][idx]
    has = pos >= 0
    bank_rows = torch.randint(0, d["pvec"].shape[0], (cfg["bank"],), generator=gen)
    P = torch.cat([d["pvec"][torch.from_numpy(pos[has])], d["pvec"][bank_rows]])
    l_cos = (1 - (s * t).sum(-1)).mean()
    ls, lt = s @ P.T / cfg["tau"], t @ P.T / cfg["tau"]
    l_kl = F.kl_div(F.log_softmax(ls, -1), F.log_softmax(lt, -1), log_target=True, reduction="batchmean")
    l_nce = torch.zeros(())
    if has.any():
        target = torch.arange(int(has.sum()))
        l_nce = F.cross_entropy(ls[torch.from_numpy(has)], target)
    loss = cfg["w_cos"] * l_cos + cfg["w_kl"] * l_kl + cfg["w_nce"] * l_nce
    return loss, {"cos": l_cos.item(), "kl": l_kl.item(), "nce": l_nce.item()}


@torch.no_grad()
def heldout(encode, d, idx) -> dict:
    """Cosine to the teacher, and recall@10 / MRR@10 of the positive among all passages (student and teacher)."""
    s = torch.cat([encode(idx[i: i + 1024]) for i in range(0, len(idx), 1024)])
    t = d["qvec"][idx]
    out = {"texts": int(len(idx)), "cosToTeacher": float((s * t).sum(-1).mean())}
    pos = d["positives"][idx]
    has = pos >= 0
    for name, q in (("student", s), ("teacher", t)):
        scores = q[torch.from_numpy(has)] @ d["pvec"].T
        p = torch.from_numpy(pos[has])
        rank = (scores > scores[torch.arange(len(p)), p].unsqueeze(1)).sum(1)
        out[name] = {"recall@10": float((rank < 10).float().mean()), "mrr@10": float(torch.where(rank < 10, 1.0 / (rank + 1), 0.0).mean())}
    out["withPositive"] = int(has.sum())
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the file offline.train.static_data wrote")
    ap.add_argument("--out", required=True, help="checkpoint path (.pt)")
    for k, v in DEFAULTS.items():
        ap.add_argument(f"--{k}", type=type(v), default=v)
    a = ap.parse_args(argv)
    cfg = {k: getattr(a, k) for k in DEFAULTS}
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    d = load(a.data)
    train_idx, hold_idx = split(len(d["lens"]), cfg["holdout"], cfg["seed"])
    keep = [SOURCES.index(x) for x in cfg["sources"].split(",")]
    train_idx = train_idx[np.isin(d["sources"][train_idx], keep)]
    model = StaticQuery(d["tokvec"], cfg["bigram_buckets"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train_idx) / cfg["batch"])
    total = steps_per_epoch * cfg["epochs"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg["warmup"]) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    encode = lambda idx: model(*padded(d["flat"], d["offsets"], d["lens"], idx))
    log = lambda s: print(s, flush=True)
    log(f"{len(train_idx)} train / {len(hold_idx)} held-out texts; {total} steps; recipe {cfg}")
    start = heldout(encode, d, hold_idx)
    log(f"held-out at start: {json.dumps(start)}")
    rng = np.random.default_rng(cfg["seed"])
    t0, step = time.time(), 0
    for epoch in range(cfg["epochs"]):
        model.train()
        perm = rng.permutation(train_idx)
        for b in range(0, len(perm), cfg["batch"]):
            loss, parts = batch_loss(model, d, perm[b: b + cfg["batch"]], cfg, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0:
                log(f"step {step}/{total} loss {loss.item():.4f} {json.dumps({k: round(v, 4) for k, v in parts.items()})} {time.time() - t0:.0f}s")
        model.eval()
        log(f"epoch {epoch + 1}: held-out {json.dumps(heldout(encode, d, hold_idx))}")
    final = heldout(encode, d, hold_idx)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save({"table": model.table.detach(), "weights": model.weights().detach(), "recipe": cfg,
                "data": d["meta"], "heldout": final, "heldoutAtStart": start, "seconds": time.time() - t0,
                "holdout": hold_idx.tolist()}, a.out)
    log(f"wrote {a.out}: held-out {json.dumps(final)}")


if __name__ == "__main__":
    run_main(main)
