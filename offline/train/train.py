"""Train the I^3 retriever (or the vanilla dual encoder ablation) on SciFact train + unlabelled pseudo-queries.

    python -m offline.train.train --model=i3 --seed=0                 # the CPU recipe (~minutes on 2 cores)
    python -m offline.train.train --model=dual --seed=0               # the ablation: identical recipe, no heads
    python -m offline.train.train --device=cuda --train_passage=all --batch_size=64 --max_steps=2000   # GPU recipe

Overrides: --key=value (or --key value) for any default below, nanoGPT style. Prerequisites (once):
    python -m offline.train.data      # frozen-backbone token-state caches of the 4 corpora (runs/cache/); the
                                      # GPU recipe (train_passage=all) needs only the token caches, made on first use
    python -m offline.train.mine      # BM25 + zero-shot dense hard negatives for the SciFact train queries
The GPU recipe end to end (mine, 3 seeds x {dual, I^3, I^3 without reconstruction}, evaluate): offline/train/gpu.sh

Loss per step = contrastive CE (in-batch + hard negatives, positives of the same query masked out, learned
temperature) + beta * reconstruction CE (I^3 only), beta = beta0 * 10^-epoch (smooth: epoch is fractional).
Dev = a fixed 10% of the SciFact TRAIN queries (data.scifact_train_dev), full SciFact corpus; the best dev nDCG@10
checkpoint is kept. Test qrels are never read here (data.load_train_qrels refuses them).
"""

import ast
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from offline.train import data
from offline.train.cli import run_main
from offline.train.model import build, pick_device, seed_everything

# ----------------------------------------------------------------------------------------------- defaults
model = "i3"  # i3 | dual
seed = 0
device = "auto"  # auto | cpu | cuda
threads = 2  # torch CPU threads (the dev machine has 2 cores)
out_dir = ""  # default runs/<model>-s<seed>
# data
data_root = ""  # folder of the BEIR corpora (default: $I3_DATA)
train_qrels = ""  # the ONLY labels used (default: <data root>/scifact/qrels/train.tsv)
mined = "runs/mine/scifact-train.json"  # from `python -m offline.train.mine` (relative to the repository root)
unlab_corpora = "scifact,cranfield,dl19-judged"  # random-span pseudo-queries cut from these passages
q_max_len = 32
p_max_len = 128
# batch
batch_size = 32  # labelled queries per step
n_hard = 1  # hard negatives per labelled query, drawn from the union of BM25 and zero-shot dense top `hard_topk`
hard_topk = 30
unlab_batch = 16  # (random span -> its passage) pairs per step
span_min, span_max = 4, 12  # pseudo-query length in tokens (uniform)
# optimisation
max_steps = 200  # ~8.8 epochs of the 728 train queries; 50 (the first round) was undertrained
lr_encoder = 3e-5  # backbones (paper: 2e-5 with LAMB; we use AdamW)
lr_heads = 1e-3  # reconstructor, interactor, reconstruction head, temperature, passage tanh layer when frozen
weight_decay = 0.01
warmup_steps = 10
grad_clip = 1.0
beta0 = 1.0  # reconstruction weight at epoch 0; beta = beta0 * 10^-epoch (paper)
beta_decade_steps = 0  # steps per 10x decay of beta; 0 = one epoch of the train queries (the paper's 10^-epoch)
train_passage = "pool"  # none: passage tower frozen | pool: frozen backbone layers, trainable tanh layer (CPU
#                        recipe, uses the state cache) | all: full passage backbone fine-tuning (needs a GPU)
# heads (I^3)
n_slots = 16  # paper: 32; halves the slot cost on CPU (reconstructs the first 16 query tokens; SciFact median 25)
n_recon_layers = 1
n_inter_layers = 1
head_ffn_dim = 512
head_attn_dim = 128  # inner width of the heads' attention (the cross-attention K/V over 128 tokens dominates)
head_dropout = 0.1
# logging / eval
log_every = 5
eval_every = 50  # dev nDCG@10 (and checkpoint selection: best dev kept) every N steps (0 = only at the end)
dev_at_start = 0  # also evaluate step 0 (= the zero-shot model for both i3 and dual)
dev_pool_random = 1000  # dev candidates: dev positives + mined top-20 (BM25, dense) of dev queries + this many random docs
# ----------------------------------------------------------------------------------------------- overrides
_keys = [k for k, v in list(globals().items()) if not k.startswith("_") and isinstance(v, (int, float, str))]


def _parse_overrides(argv):
    i = 0
    while i < len(argv):
        arg = argv[i]
        assert arg.startswith("--"), f"bad argument {arg}"
        if "=" in arg:
            k, v = arg[2:].split("=", 1)
        else:
            k, v = arg[2:], argv[i + 1]
            i += 1
        assert k in _keys, f"unknown option --{k}"
        try:
            v = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            pass
        if isinstance(globals()[k], float) and isinstance(v, int):
            v = float(v)
        assert type(v) is type(globals()[k]), f"--{k}: expected {type(globals()[k]).__name__}"
        globals()[k] = v
        i += 1


if __name__ == "__main__":
    _parse_overrides(sys.argv[1:])
config = {k: globals()[k] for k in _keys}


# ----------------------------------------------------------------------------------------------- pieces
def setup_trainable(m, mode):
    """Which parameters learn. Query backbone always; passage backbone per `train_passage`; heads always."""
    for p in m.passage_encoder.parameters():
        p.requires_grad = mode == "all"
    if mode == "pool":
        for p in m.passage_encoder.tanh_layer.parameters():
            p.requires_grad = True
    enc = [p for p in m.query_encoder.parameters()] + (
        [p for p in m.passage_encoder.parameters()] if mode == "all" else [])
    enc_ids = {id(p) for p in enc}
    heads = [p for p in m.parameters() if p.requires_grad and id(p) not in enc_ids]
    return enc, heads


def lr_factor(step, warmup_steps, max_steps):
    """The learning rate's factor at `step` (1-based): linear warmup, then cosine down to 10%."""
    if step <= warmup_steps:
        return step / warmup_steps
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, max_steps - warmup_steps)))


def contrastive_loss(q, p, targets, false_neg_mask, scale):
    """q [Nq,D], p [Np,D], targets [Nq] column of each query's positive, false_neg_mask [Nq,Np] True = drop."""
    logits = scale * (q @ p.t())
    logits = logits.masked_fill(false_neg_mask, -1e4)
    return F.cross_entropy(logits, targets)


def reconstruction_loss(m, q_tilde, rows, targets):
    """CE of slot i against target token i (position by position), slots past the target length ignored.
    Logits are computed only at the supervised slots (cheaper than [B, M, 8002])."""
    qt = q_tilde[rows]  # [R, M, D]
    valid = targets != -100
    if valid.sum() == 0:
        return qt.sum() * 0.0
    logits = m.reconstruction_logits(qt[valid])  # [K, V]
    return F.cross_entropy(logits, targets[valid])


class Batcher:
    """Builds a training batch: labelled queries (pos + hard negs) + unlabelled span pairs, all with cached states."""

    def __init__(self, rng, train_q, queries, mined_negs, caches, unlab_names):
        self.rng = rng
        self.caches = caches
        self.sf = caches["scifact"]
        pos_of = {d: i for i, d in enumerate(self.sf.doc_ids)}
        self.items = []
        for q, rels in sorted(train_q.items()):
            pos = [pos_of[d] for d, g in rels.items() if g > 0 and d in pos_of]
            if not pos:
                continue
            negs = list(dict.fromkeys(mined_negs[q]["bm25"][:hard_topk] + mined_negs[q]["dense"][:hard_topk]))
            self.items.append((q, pos, negs))
        qtok = data.encode_texts([queries[q] for q, _, _ in self.items], q_max_len)
        self.qtok = {it[0]: t for it, t in zip(self.items, qtok)}
        self.order, self.cursor = [], 0
        self.unlab = [n for n in unlab_names if n in caches]
        self.n_train = len(self.items)

    def next_labelled(self, n):
        out = []
        while len(out) < n:
            if self.cursor >= len(self.order):
                self.order = list(range(len(self.items)))
                self.rng.shuffle(self.order)
                self.cursor = 0
            out.append(self.items[self.order[self.cursor]])
            self.cursor += 1
        return out

    def get(self):
        qtoks, passages, targets, rec_rows, rec_tgts = [], [], [], [], []
        positives = []  # per query: set of (corpus, idx) that must not be negatives
        for q, pos, negs in self.next_labelled(batch_size):
            qtoks.append(self.qtok[q])
            p = self.rng.choice(pos)
            targets.append(len(passages))
            rec_rows.append(len(passages))
            rec_tgts.append(self.qtok[q])
            passages.append(("scifact", p))
            positives.append({("scifact", x) for x in pos})
            for n in self.rng.sample(negs, min(n_hard, len(negs))):
                passages.append(("scifact", n))
        for _ in range(unlab_batch if self.unlab else 0):
            name = self.rng.choice(self.unlab)
            c = self.caches[name]
            i = self.rng.randrange(len(c))
            toks = c.tokens[i]
            L = self.rng.randint(span_min, span_max)
            s = self.rng.randint(0, max(0, len(toks) - L))
            span = toks[s: s + L]
            qtoks.append(span)
            targets.append(len(passages))
            rec_rows.append(len(passages))
            rec_tgts.append(span)
            passages.append((name, i))
            positives.append({(name, i)})
        # false negatives: any column whose passage is a positive of the row's query, other than its target
        fn = torch.zeros(len(qtoks), len(passages), dtype=torch.bool)
        for r in range(len(qtoks)):
            for c, pkey in enumerate(passages):
                if c != targets[r] and pkey in positives[r]:
                    fn[r, c] = True
        tgt = torch.full((len(rec_tgts), n_slots), -100, dtype=torch.long)
        for r, t in enumerate(rec_tgts):
            t = t[:n_slots]
            tgt[r, : len(t)] = torch.tensor(t, dtype=torch.long)
        return qtoks, passages, torch.tensor(targets), fn, torch.tensor(rec_rows), tgt

    def passage_inputs(self, passages, dev):
        """(states [N, L, 512] from the state caches, or None for train_passage=all), mask [N, L], token ids [N, L]."""
        L = max(int(self.caches[n].lens[i]) for n, i in passages)
        st = None if train_passage == "all" else torch.zeros(len(passages), L, self.sf.dim)
        mask = torch.zeros(len(passages), L, dtype=torch.long)
        ids = torch.zeros(len(passages), L, dtype=torch.long)
        for r, (n, i) in enumerate(passages):
            c = self.caches[n]
            k = int(c.lens[i])
            if st is not None:
                st[r, :k] = torch.from_numpy(np.asarray(c.states[c.offsets[i]: c.offsets[i] + k], dtype=np.float32))
            ids[r, :k] = torch.tensor(c.tokens[i][:k])
            mask[r, :k] = 1
        return (st.to(dev) if st is not None else None), mask.to(dev), ids.to(dev)


def dev_pool(dev_q, mined_negs, cache):
    """Dev candidate docs (a CPU-time compromise vs the full corpus): positives + mined top-20 + random docs."""
    pos_of = {d: i for i, d in enumerate(cache.doc_ids)}
    pool = set()
    for q, rels in dev_q.items():
        pool |= {pos_of[d] for d in rels if d in pos_of}
        pool |= set(mined_negs[q]["bm25"][:20]) | set(mined_negs[q]["dense"][:20])
    pool |= set(random.Random(0).sample(range(len(cache)), dev_pool_random))
    return sorted(pool)


@torch.no_grad()
def dev_eval(m, dev_q, queries, cache, dev, pool):
    """nDCG@10 / MRR@10 / R@100 of the dev queries over the dev candidate pool of SciFact docs."""
    from offline.train.evaluate import evaluate_run
    m.eval()
    if train_passage == "all":
        P = data.encode_tokens(m.encode_passage, [cache.tokens[i] for i in pool], dev)
    else:
        P = []
        for s in range(0, len(pool), 128):
            st, mk = cache.batch(pool[s: s + 128], dev)
            P.append(m.passage_from_states(st, mk)[0].float().cpu().numpy())
        P = np.concatenate(P)
    qids = sorted(dev_q)
    x, mk = data.pad_batch(data.encode_texts([queries[q] for q in qids], q_max_len))
    Q = m.encode_query(x.to(dev), mk.to(dev)).float().cpu().numpy()
    m.train()
    return evaluate_run(Q, qids, P, [cache.doc_ids[i] for i in pool], dev_q)


def main():
    dev = pick_device(device)
    torch.set_num_threads(threads)
    seed_everything(seed)
    data.set_data_root(data_root or None)
    od = out_dir or os.path.join(data.REPO, "runs", f"{model}-s{seed}")
    os.makedirs(od, exist_ok=True)
    logf = open(os.path.join(od, "log.jsonl"), "w")

    def log(o):
        print(json.dumps(o), flush=True)
        logf.write(json.dumps(o) + "\n")
        logf.flush()

    # labels: SciFact TRAIN qrels only, split into train / dev
    data.assert_not_test_qrels(train_qrels or data.data_path("scifact", "qrels", "train.tsv"))
    train_q, dev_q = data.scifact_train_dev()
    queries = data.load_queries("scifact")
    with open(os.path.join(data.REPO, mined)) as f:
        mined_negs = json.load(f)
    names = ["scifact"] + [n for n in unlab_corpora.split(",") if n and n != "scifact"]
    # the whole passage tower trains: token ids are enough; frozen backbone: its token states come from the cache
    caches = {n: (data.TokenCache if train_passage == "all" else data.StateCache)(n, p_max_len) for n in names}
    rng = random.Random(seed)
    batcher = Batcher(rng, train_q, queries, mined_negs, caches, [n for n in unlab_corpora.split(",") if n])

    m = build(model, pretrained=True, n_slots=n_slots, n_recon_layers=n_recon_layers,
              n_inter_layers=n_inter_layers, dropout=head_dropout, ffn_dim=head_ffn_dim,
              attn_dim=head_attn_dim)
    m.to(dev).train()
    enc_params, head_params = setup_trainable(m, train_passage)
    opt = torch.optim.AdamW([{"params": enc_params, "lr": lr_encoder, "base_lr": lr_encoder},
                             {"params": head_params, "lr": lr_heads, "base_lr": lr_heads}],
                            weight_decay=weight_decay)
    log({"event": "start", "config": config, "device": dev, "n_train_queries": batcher.n_train,
         "n_dev_queries": len(dev_q), "trainable_encoder": sum(p.numel() for p in enc_params),
         "trainable_heads": sum(p.numel() for p in head_params)})

    best = {"nDCG@10": -1.0}
    t0 = time.time()
    pool = dev_pool(dev_q, mined_negs, caches["scifact"])
    if dev_at_start:
        r0 = dev_eval(m, dev_q, queries, caches["scifact"], dev, pool)
        log({"event": "dev", "step": 0, **r0, "elapsed": time.time() - t0})
    best_step = -1
    for step in range(1, max_steps + 1):
        f = lr_factor(step, warmup_steps, max_steps)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * f
        epoch = (step - 1) * batch_size / batcher.n_train
        beta = beta0 * 10.0 ** (-(epoch if beta_decade_steps <= 0 else (step - 1) / beta_decade_steps))

        qtoks, passages, targets, fn, rec_rows, rec_tgt = batcher.get()
        qx, qm = data.pad_batch(qtoks)
        q = m.encode_query(qx.to(dev), qm.to(dev))
        st, pm, pids = batcher.passage_inputs(passages, dev)
        if train_passage == "all":
            st = m.passage_encoder.token_states(pids, pm)
        p, q_tilde = m.passage_from_states(st, pm)
        l_ce = contrastive_loss(q, p, targets.to(dev), fn.to(dev), m.logit_scale)
        l_rec = reconstruction_loss(m, q_tilde, rec_rows.to(dev), rec_tgt.to(dev)) if q_tilde is not None \
            else torch.zeros((), device=dev)
        loss = l_ce + beta * l_rec
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([x for g in opt.param_groups for x in g["params"]], grad_clip)
        opt.step()

        if step % log_every == 0 or step == 1:
            log({"event": "train", "step": step, "epoch": round(epoch, 3), "loss": loss.item(), "ce": l_ce.item(),
                 "rec": l_rec.item(), "beta": beta, "scale": m.logit_scale.item(), "lr_f": f,
                 "elapsed": round(time.time() - t0, 1)})
        if (eval_every and step % eval_every == 0) or step == max_steps:
            r = dev_eval(m, dev_q, queries, caches["scifact"], dev, pool)
            log({"event": "dev", "step": step, **r, "elapsed": round(time.time() - t0, 1)})
            if r["nDCG@10"] > best["nDCG@10"]:
                best, best_step = r, step
                m.save(os.path.join(od, "ckpt.pt"), train_args=config, step=step, dev=r)
    log({"event": "done", "best_step": best_step, "best_dev": best, "seconds": round(time.time() - t0, 1)})


if __name__ == "__main__":
    run_main(main)
