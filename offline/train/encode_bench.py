"""Passage-encoding throughput of the PyTorch passage tower (offline/train/onnx_weights.py), the engine of
`i3 build --encoder torch`, on a GPU or the CPU; with its parity to onnxruntime (CPU) on a sample.

    python -m offline.train.encode_bench --model models/i3-scifact --corpus data/demo/scifact/corpus.jsonl \
        --device cuda --batch 512 [--repeat 3] [--limit N] [--json]

Passages are each document's first window (title + " " + text, at most --max-len tokens, 128 by default), sorted by
length and cut into batches, as the build does. Prints one JSON line: passages, tokens, passages/s and tokens/s (the
best of --repeat timed passes after a warm-up pass), device, and the minimum cosine to onnxruntime over 256 passages.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from offline.train.data import passage_text
from offline.train.onnx_weights import passage_tower
from offline.train.tokenizer import Tokenizer


def _passages(corpus: str, vocab: str, max_len: int, limit: int):
    tok = Tokenizer.from_file(vocab)
    out = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            ids = tok.encode(passage_text(json.loads(line)))[:max_len]
            if ids:
                out.append(ids)
            if limit and len(out) >= limit:
                break
    return out


def _batches(seqs, batch: int):
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for s in range(0, len(order), batch):
        rows = [seqs[i] for i in order[s:s + batch]]
        L = max(len(r) for r in rows)
        ids = np.zeros((len(rows), L), dtype=np.int64)
        mask = np.zeros((len(rows), L), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        yield ids, mask


def _parity(model_dir: str, tower, device: str, seqs) -> float:
    import onnxruntime as ort

    meta = json.load(open(os.path.join(model_dir, "model.json"), encoding="utf-8"))
    sess = ort.InferenceSession(os.path.join(model_dir, meta["passage"]), providers=["CPUExecutionProvider"])
    worst = 1.0
    for ids, mask in _batches(seqs, 64):
        want = sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        with torch.inference_mode():
            got = tower(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)).float().cpu().numpy()
        worst = min(worst, float((got * want).sum(axis=1).min()))
    return worst


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m offline.train.encode_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True, help="corpus.jsonl (BEIR or i3 layout)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="only the JSON line")
    a = ap.parse_args(argv)
    meta = json.load(open(os.path.join(a.model, "model.json"), encoding="utf-8"))
    seqs = _passages(a.corpus, os.path.join(a.model, meta["vocab"]), a.max_len, a.limit)
    torch.backends.cuda.matmul.allow_tf32 = False
    tower = passage_tower(a.model).to(a.device)
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    best = float("inf")
    for rep in range(a.repeat + 1):  # the first pass warms up (kernels, allocator)
        sync()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for ids, mask in _batches(seqs, a.batch):
                tower(torch.from_numpy(ids).to(a.device, non_blocking=True), torch.from_numpy(mask).to(a.device, non_blocking=True))
        sync()
        if rep > 0:
            best = min(best, time.perf_counter() - t0)
        if not a.json:
            print(f"pass {rep}: {time.perf_counter() - t0:.2f} s", flush=True)
    tokens = sum(len(s) for s in seqs)
    name = torch.cuda.get_device_name(torch.device(a.device)) if a.device.startswith("cuda") else "cpu"
    print(json.dumps({
        "model": os.path.basename(os.path.normpath(a.model)), "device": name, "passages": len(seqs), "tokens": tokens,
        "batch": a.batch, "maxLen": a.max_len, "seconds": round(best, 3), "passagesPerS": round(len(seqs) / best, 1),
        "tokensPerS": round(tokens / best), "minCosineToOnnxruntime": round(_parity(a.model, tower, a.device, seqs[:256]), 7),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
