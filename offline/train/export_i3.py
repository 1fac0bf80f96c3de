"""Export a trained I^3 (or dual) checkpoint to models/<name>/.

    python offline/train/export_i3.py --ckpt runs/i3-s0/ckpt.pt --name i3-scifact [--eval runs/eval/i3-s0.json]

Writes query.onnx (the query tower = a plain USE-lite graph), passage.onnx (backbone + reconstructor + interactor,
reconstruction head dropped), query.int8.onnx (onnxruntime dynamic int8, the edge query model), vocab.json (copy of
models/use-lite/vocab.json) and model.json. Checks: PyTorch vs onnxruntime max abs diff <= 1e-4 on both towers
(padded batches), int8 vs fp32 query cosine >= 0.995 (min over queries), int8 file <= 10 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import PassageTower, QueryTower, load_checkpoint  # noqa: E402

OPSET = 17


def export_onnx(module, path, opset=OPSET):
    module.eval()
    ids = torch.randint(6, 8000, (2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    torch.onnx.export(module, (ids, mask), path, input_names=["input_ids", "attention_mask"],
                      output_names=["embedding"], opset_version=opset, dynamo=False,
                      dynamic_axes={"input_ids": {0: "B", 1: "L"}, "attention_mask": {0: "B", 1: "L"},
                                    "embedding": {0: "B"}})


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_run(sess, ids, mask):
    return sess.run(["embedding"], {"input_ids": ids.numpy().astype(np.int64),
                                    "attention_mask": mask.numpy().astype(np.int64)})[0]


@torch.no_grad()
def parity(module, path, seqs):
    """max abs diff PyTorch vs onnxruntime over a padded batch of token sequences."""
    sess = ort_session(path)
    ids, mask = data.pad_batch(seqs)
    ref = module.eval()(ids, mask).numpy()
    got = ort_run(sess, ids, mask)
    return float(np.abs(ref - got).max())


def quantize_query(src, dst):
    """Weights only: MatMul/Gemm/Gather with an initializer operand; activation x activation MatMuls (attention scores
    and attention-weighted values) stay fp32 (dynamic int8 on both operands costs too much cosine)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    g = onnx.load(src).graph
    inits = {i.name for i in g.initializer}
    exclude = [n.name for n in g.node if n.op_type == "MatMul" and not any(x in inits for x in n.input)]
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather", "Gemm"], nodes_to_exclude=exclude)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export(model, out, name, q_max_len=32, p_max_len=128, recipe=None, eval_results=None, check_texts=None):
    os.makedirs(out, exist_ok=True)
    qp, pp, q8 = (os.path.join(out, f) for f in ("query.onnx", "passage.onnx", "query.int8.onnx"))
    qt, pt = QueryTower(model).eval(), PassageTower(model).eval()
    export_onnx(qt, qp)
    export_onnx(pt, pp)
    rng = np.random.default_rng(0)
    seqs_q = [list(rng.integers(6, 8000, size=n)) for n in (3, 17, 32, 1)]
    seqs_p = [list(rng.integers(6, 8000, size=n)) for n in (128, 40, 7, 100)]
    if check_texts:
        seqs_q += data.encode_texts(check_texts[:16], q_max_len)
    d_q, d_p = parity(qt, qp, seqs_q), parity(pt, pp, seqs_p)
    assert d_q <= 1e-4 and d_p <= 1e-4, f"ONNX parity failed: query {d_q} passage {d_p}"
    # edge query model: dynamic int8, cosine vs fp32 over real query texts
    quantize_query(qp, q8)
    texts = check_texts or ["what is the effect of vitamin d on bone density", "Hello world."]
    s32, s8 = ort_session(qp), ort_session(q8)
    cos = []
    toks = data.encode_texts(texts, q_max_len)
    for s in range(0, len(toks)):  # one query per call, as the Worker runs it (dynamic int8 activation ranges are
        ids, mask = data.pad_batch(toks[s: s + 1])  # per call, so padding in a batch would change them)
        a, b = ort_run(s32, ids, mask), ort_run(s8, ids, mask)
        cos.append((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
    cos = np.concatenate(cos)
    size8 = os.path.getsize(q8)
    assert cos.min() >= 0.995, f"int8 query cosine too low: min {cos.min():.4f}"
    assert size8 <= 10 * 1024 * 1024, f"int8 query model too large: {size8} bytes"
    shutil.copyfile(data.VOCAB, os.path.join(out, "vocab.json"))
    files = ["query.onnx", "passage.onnx", "query.int8.onnx", "vocab.json"]
    meta = {
        "name": name, "dim": 512, "maxQueryTokens": q_max_len, "maxPassageTokens": p_max_len, "normalized": True,
        "query": "query.onnx", "passage": "passage.onnx", "vocab": "vocab.json",
        "sha256": {f: sha256(os.path.join(out, f)) for f in files},
        "onnx": {"opset": OPSET, "inputs": ["input_ids", "attention_mask"], "output": "embedding"},
        "edgeQuery": "query.int8.onnx",  # a file name: offline/build/model.ts ships it as the index's query model
        "edgeQueryVariants": {"query.int8.onnx": {
            "weights": "int8", "bytes": size8,
            "quantization": "onnxruntime quantize_dynamic: per-channel QInt8 weights of MatMul, Gemm, Gather "
                            "(embedding table included); attention activation x activation MatMuls kept fp32",
            "cosineToFp32": {"min": round(float(cos.min()), 7), "mean": round(float(cos.mean()), 7),
                             "texts": int(len(cos)), "batch": 1}}},
        "source": "I^3 retriever (Dong et al., CIKM 2023) on USE-lite: offline/train/model.py, trained by "
                  "offline/train/train.py, exported by offline/train/export_i3.py; see docs/TRAINING.md",
        "parity": {"queryMaxAbsDiff": d_q, "passageMaxAbsDiff": d_p, "opset": OPSET},
        "architecture": model.cfg.kind,
        "recipe": recipe or {},
        "eval": eval_results or {},
    }
    # fusion defaults are tuned on a built index after export (offline/eval/tune-fusion.ts): keep them across re-exports
    prev_path = os.path.join(out, "model.json")
    if os.path.exists(prev_path):
        with open(prev_path, encoding="utf-8") as f:
            prev = json.load(f)
        meta.update({k: prev[k] for k in ("fusion", "fusionTuning") if k in prev})
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return meta


def bench(model_dirs, n=256, batch=32, corpus="scifact"):
    """passages/s of each model dir's passage.onnx (and queries/s of query.onnx) in onnxruntime, 2 threads,
    on the first n passages of a corpus (128-token windows), batches of `batch`."""
    _, toks = data.corpus_tokens(corpus)
    toks = [t if t else [0] for t in toks[:n]]
    _, qs = zip(*sorted(data.load_queries(corpus).items()))
    qtoks = data.encode_texts(list(qs)[:n], 32)
    out = {}
    for d in model_dirs:
        res = {}
        for kind, seqs in (("passage", toks), ("query", qtoks)):
            sess = ort_session(os.path.join(d, f"{kind}.onnx"))
            ids, mask = data.pad_batch(seqs[:batch])
            ort_run(sess, ids, mask)  # warm-up
            t = time.time()
            for s in range(0, len(seqs), batch):
                ids, mask = data.pad_batch(seqs[s: s + batch])
                ort_run(sess, ids, mask)
            res[f"{kind}PerSec"] = round(len(seqs) / (time.time() - t), 1)
        out[d] = res
        print(json.dumps({d: res}), flush=True)
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--bench":
        torch.set_num_threads(2)
        bench(sys.argv[2:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--name", default="i3-scifact")
    ap.add_argument("--out", default=None)
    ap.add_argument("--eval", default=None, help="JSON with eval results to record in model.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    model, ck = load_checkpoint(a.ckpt)
    model.eval()
    args = ck.get("train_args", {})
    out = a.out or os.path.join(data.REPO, "models", a.name)
    # int8 check texts: SciFact train-split query texts (no labels involved)
    train_q, dev_q = data.scifact_train_dev()
    qs = data.load_queries("scifact")
    texts = [qs[q] for q in sorted(dev_q)] + [qs[q] for q in sorted(train_q)][:120]
    import train as T  # the command that reproduces the run: every train_args value that is not a default
    flags = " ".join(f"--{k}={v}" for k, v in args.items()
                     if k in T.config and v != T.config[k] and k not in ("out_dir", "mined", "train_qrels", "threads"))
    recipe = {"checkpoint": os.path.relpath(a.ckpt, data.REPO), "step": ck.get("step"), "dev": ck.get("dev"),
              "train_args": args, "command": f"python offline/train/train.py {flags}".strip()}
    ev = json.load(open(a.eval)) if a.eval else None
    t = time.time()
    meta = export(model, out, a.name, args.get("q_max_len", 32), args.get("p_max_len", 128), recipe,
                  ev, texts)
    print(json.dumps({"out": out, "parity": meta["parity"], "edgeQuery": meta["edgeQueryVariants"],
                      "seconds": round(time.time() - t, 1)}, indent=1))


if __name__ == "__main__":
    main()
