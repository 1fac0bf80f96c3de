"""Weight-only int8 quantization of an ONNX encoder for the edge.

Every large float weight (MatMul/Gemm matrices and the embedding table) is stored as int8 with one symmetric
scale per output channel (per row of the embedding table) and turned back into float32 by a DequantizeLinear
node. Activations stay float32, so unlike onnxruntime's dynamic quantization (which also quantizes activations
to 8 bits on the fly) the vectors barely move; the file shrinks about 4x. onnxruntime constant-folds the
DequantizeLinear nodes when it loads the model, so inference runs the float32 kernels.

    python offline/train/quantize_edge.py models/use-lite/encoder.onnx models/use-lite/query.int8.onnx
    python offline/train/quantize_edge.py --model-dir models/i3-scifact --weights fp16 --make-default \
        --texts /work/shared/data/scifact/queries.jsonl

With --model-dir it compresses the sidecar's `query` model, measures the cosine to it over real query texts (one
query per call, as the Worker runs them), adds the file to `edgeQueryVariants` and `sha256` in model.json, and with
--make-default makes it the `edgeQuery` that `i3 build` ships in the index.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

MIN_ELEMENTS = 4096  # small tensors (biases, LayerNorm, timing constants) stay float32


def _consumers(graph):
    uses = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            uses.setdefault(name, []).append((node, i))
    return uses


def quantize_weights(model: onnx.ModelProto, matmul: str = "int8", embedding: str = "int8") -> onnx.ModelProto:
    """Stores big weights as int8 (per-channel scale, DequantizeLinear) or fp16 (Cast), per kind of weight."""
    graph = model.graph
    uses = _consumers(graph)
    keep, added_nodes = [], []
    for init in graph.initializer:
        w = numpy_helper.to_array(init)
        users = uses.get(init.name, [])
        # Which axis is a "channel": the output columns of a [in, out] MatMul weight, the rows of an embedding.
        axis = None
        if w.dtype == np.float32 and w.ndim == 2 and w.size >= MIN_ELEMENTS and users:
            if all(n.op_type == "Gather" and i == 0 for n, i in users):
                axis = 0
            elif all(n.op_type in ("MatMul", "Gemm") and i == 1 for n, i in users):
                axis = 1
        mode = None if axis is None else (embedding if axis == 0 else matmul)
        if mode in (None, "fp32"):
            keep.append(init)
            continue
        if mode == "fp16":
            keep.append(numpy_helper.from_array(w.astype(np.float16), init.name + "_f16"))
            added_nodes.append(helper.make_node("Cast", [init.name + "_f16"], [init.name], to=onnx.TensorProto.FLOAT,
                                                name=init.name + "_cast"))
            continue
        amax = np.abs(w).max(axis=1 - axis)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.round(w / (scale[:, None] if axis == 0 else scale[None, :])), -127, 127).astype(np.int8)
        keep.append(numpy_helper.from_array(q, init.name + "_q8"))
        keep.append(numpy_helper.from_array(scale, init.name + "_scale"))
        added_nodes.append(helper.make_node("DequantizeLinear", [init.name + "_q8", init.name + "_scale"], [init.name],
                                            axis=axis, name=init.name + "_dequant"))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = added_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < 13:
            opset.version = 13  # per-axis DequantizeLinear
    onnx.checker.check_model(model)
    return model


def _sha256(path):
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def add_edge_variant(model_dir, weights, texts, make_default):
    """Writes query.<weights>.onnx beside the sidecar's query model and records it in model.json."""
    import json

    import onnxruntime as ort

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from tokenizer import Tokenizer

    meta_path = os.path.join(model_dir, "model.json")
    with open(meta_path) as f:
        meta = json.load(f)
    src = os.path.join(model_dir, meta["query"])
    name = f"query.{weights}.onnx"
    dst = os.path.join(model_dir, name)
    model = quantize_weights(onnx.load(src), matmul=weights, embedding=weights)
    onnx.save(model, dst + ".partial")
    os.replace(dst + ".partial", dst)
    tok = Tokenizer.from_file(os.path.join(model_dir, meta["vocab"]))
    a, b = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in (src, dst))
    cos = []
    for t in texts:
        ids = tok.encode(t)[: meta["maxQueryTokens"]] or [0]
        x = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), dtype=np.int64)}
        va, vb = a.run(None, x)[0][0], b.run(None, x)[0][0]
        cos.append(float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb))))
    cos = np.array(cos)
    meta.setdefault("edgeQueryVariants", {})[name] = {
        "weights": weights, "bytes": os.path.getsize(dst),
        "quantization": f"weight-only {weights} (offline/train/quantize_edge.py); activations fp32",
        "cosineToFp32": {"min": round(float(cos.min()), 7), "mean": round(float(cos.mean()), 7),
                         "texts": int(len(cos)), "batch": 1},
    }
    meta.setdefault("sha256", {})[name] = _sha256(dst)
    if make_default:
        meta["edgeQuery"] = name
    with open(meta_path + ".partial", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(meta_path + ".partial", meta_path)
    print(f"{dst}: {os.path.getsize(dst):,} bytes, cosine to {meta['query']} over {len(cos)} texts: "
          f"min {cos.min():.7f} mean {cos.mean():.7f}{' (edgeQuery)' if make_default else ''}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", nargs="?")
    ap.add_argument("dst", nargs="?")
    ap.add_argument("--model-dir", help="compress the query model named by <dir>/model.json and record it there")
    ap.add_argument("--weights", choices=["int8", "fp16"], default="fp16", help="with --model-dir")
    ap.add_argument("--texts", help="with --model-dir: JSONL with a 'text' field (queries) to measure the cosine on")
    ap.add_argument("--limit", type=int, default=300, help="with --model-dir: texts used")
    ap.add_argument("--make-default", action="store_true", help="with --model-dir: make it the edgeQuery")
    ap.add_argument("--matmul", choices=["int8", "fp16", "fp32"], default="int8", help="MatMul/Gemm weights")
    ap.add_argument("--embedding", choices=["int8", "fp16", "fp32"], default="int8", help="the token embedding table")
    args = ap.parse_args(argv)
    if args.model_dir:
        import json

        if not args.texts or not os.path.exists(args.texts):
            sys.exit("quantize_edge: --model-dir needs --texts <queries.jsonl> to measure the cosine")
        with open(args.texts, encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()][: args.limit]
        add_edge_variant(args.model_dir, args.weights, texts, args.make_default)
        return
    if not args.src or not args.dst:
        ap.error("give <src> <dst>, or --model-dir")
    if not os.path.exists(args.src):
        sys.exit(f"quantize_edge: {args.src} not found")
    model = quantize_weights(onnx.load(args.src), matmul=args.matmul, embedding=args.embedding)
    tmp = args.dst + ".partial"
    onnx.save(model, tmp)
    os.replace(tmp, args.dst)
    print(f"{args.src} ({os.path.getsize(args.src):,} bytes) -> {args.dst} ({os.path.getsize(args.dst):,} bytes)")


if __name__ == "__main__":
    main()
