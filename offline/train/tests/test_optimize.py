"""The edge query model's graph optimized at export (offline/train/export.py `optimize`): loaded with graph
optimization off, as the worker loads a model whose index says `model.graph: "optimized"`, it gives the outputs of the
file it replaced as onnxruntime optimizes that at load. A graph the optimization would make larger (weight-only
compression folded back into float32) is left as it was."""
import json
import os
import shutil

import numpy as np
import onnx
import pytest

from offline.train.cli import CommandError
from offline.train.export import add_edge_variant, embed, optimize_edge_query, ort_session, sha256
from offline.train.quantize import quantize_dynamic_int8

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SEQS = [list(np.random.default_rng(0).integers(6, 8000, size=n)) for n in (1, 5, 17, 32)]


def test_the_optimized_graph_gives_the_same_outputs_without_optimizing_it_again(tmp_path):
    src = str(tmp_path / "source.onnx")  # a dynamic int8 graph nobody optimized, as export_i3 makes it
    quantize_dynamic_int8(os.path.join(ROOT, "models", "use-lite", "encoder.onnx"), src)
    shutil.copyfile(src, tmp_path / "query.int8.onnx")
    meta = {"edgeQuery": "query.int8.onnx", "sha256": {"query.int8.onnx": sha256(src)}}

    diff = optimize_edge_query(str(tmp_path), meta, SEQS)

    out = str(tmp_path / "query.int8.onnx")
    assert diff == 0.0
    assert meta["edgeQueryGraph"] == "optimized"
    assert meta["sha256"]["query.int8.onnx"] == sha256(out) != sha256(src)
    assert meta["edgeQueryVariants"]["query.int8.onnx"]["graph"]["replaces"] == sha256(src)
    assert meta["edgeQueryVariants"]["query.int8.onnx"]["bytes"] == os.path.getsize(out) <= os.path.getsize(src)
    assert len(onnx.load(out).graph.node) < len(onnx.load(src).graph.node)  # fused: fewer nodes to run
    before, after = ort_session(src), ort_session(out, optimize=False)
    for s in SEQS:
        assert np.array_equal(embed(before, [s]), embed(after, [s]))
    assert sorted(os.listdir(tmp_path)) == ["query.int8.onnx", "source.onnx"]  # nothing left behind


def test_a_graph_that_would_grow_is_left_as_it_was_and_no_texts_is_an_error(tmp_path):
    src = os.path.join(ROOT, "models", "use-lite", "query.int8.onnx")  # weight-only int8: DequantizeLinear of weights
    shutil.copyfile(src, tmp_path / "query.int8.onnx")
    meta = {"edgeQuery": "query.int8.onnx", "sha256": {"query.int8.onnx": sha256(src)}}
    assert optimize_edge_query(str(tmp_path), meta, SEQS) is None
    assert sha256(str(tmp_path / "query.int8.onnx")) == sha256(src)
    assert "edgeQueryGraph" not in meta and meta["sha256"]["query.int8.onnx"] == sha256(src)
    with pytest.raises(CommandError, match="at least one text"):
        optimize_edge_query(str(tmp_path), meta, [])
    assert os.listdir(tmp_path) == ["query.int8.onnx"]


def test_writing_over_the_optimized_edge_file_drops_the_flag(tmp_path):
    src = os.path.join(ROOT, "models", "i3-scifact")
    meta = json.load(open(os.path.join(src, "model.json"), encoding="utf-8"))
    assert meta["edgeQueryGraph"] == "optimized" and meta["edgeQuery"] == "query.int8.onnx"
    for f in (meta["query"], meta["vocab"]):
        os.symlink(os.path.join(src, f), tmp_path / f)
    (tmp_path / "model.json").write_text(json.dumps(meta))
    add_edge_variant(str(tmp_path), "int8", ["what is the effect of vitamin d on bone density"], make_default=False)
    written = json.load(open(tmp_path / "model.json", encoding="utf-8"))
    assert written["edgeQuery"] == "query.int8.onnx" and "edgeQueryGraph" not in written
