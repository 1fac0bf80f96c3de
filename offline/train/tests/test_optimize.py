"""The edge query model's graph optimized at export (offline/train/export.py `optimize`): loaded with graph
optimization off, as the worker loads a model whose index says `model.graph: "optimized"`, it gives the outputs of the
file it replaced as onnxruntime optimizes that at load."""
import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort

from offline.train.export import embed, optimize_edge_query, ort_session, sha256

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def test_the_optimized_graph_gives_the_same_outputs_without_optimizing_it_again(tmp_path):
    src = os.path.join(ROOT, "models", "use-lite", "query.int8.onnx")  # a graph nobody optimized
    shutil.copyfile(src, tmp_path / "query.int8.onnx")
    meta = {"edgeQuery": "query.int8.onnx", "sha256": {"query.int8.onnx": sha256(src)}}
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(6, 8000, size=n)) for n in (1, 5, 17, 32)]

    diff = optimize_edge_query(str(tmp_path), meta, seqs)

    out = str(tmp_path / "query.int8.onnx")
    assert diff == 0.0
    assert meta["edgeQueryGraph"] == "optimized"
    assert meta["sha256"]["query.int8.onnx"] == sha256(out) != sha256(src)
    assert meta["edgeQueryVariants"]["query.int8.onnx"]["graph"]["replaces"] == sha256(src)
    assert meta["edgeQueryVariants"]["query.int8.onnx"]["bytes"] == os.path.getsize(out)
    assert len(onnx.load(out).graph.node) < len(onnx.load(src).graph.node)  # fused: fewer nodes to run
    before, after = ort_session(src), ort_session(out, optimize=False)
    for s in seqs:
        assert np.array_equal(embed(before, [s]), embed(after, [s]))
    assert not os.path.exists(out + ".optimized") and not os.path.exists(out + ".optimized.partial")
