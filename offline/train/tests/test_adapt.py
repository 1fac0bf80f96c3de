"""Corpus adaptation (offline/train/adapt.py) end to end on a tiny corpus, on the CPU: a few steps from the shipped
model's ONNX weights, exported, and read back with onnxruntime against the base model."""
import json
import re
import os

import numpy as np
import onnxruntime as ort
import pytest
import torch

from offline.train import adapt
from offline.train.cli import CommandError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BASE = os.path.join(ROOT, "models", "i3-scifact")

WORDS = ("boundary layer flow heat transfer shock wave supersonic wing pressure distribution laminar turbulent "
         "cylinder cone nozzle jet vortex plate skin friction mach number reynolds stability buckling shell").split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    docs = [{"_id": f"d{i}", "title": f"study {i}", "text": " ".join(rng.choice(WORDS, size=40))} for i in range(24)]
    docs.append({"_id": "empty", "title": "", "text": "  "})
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def _run(sess, ids, mask):
    return sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]


def _batch():
    ids = np.random.default_rng(1).integers(6, 8000, size=(3, 20)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    return ids, mask


def test_adapt_exports_a_model_that_loads_and_moved(corpus, tmp_path, capsys):
    out = tmp_path / "adapted"
    torch.set_num_threads(2)
    adapt.main(["--corpus", str(corpus), "--model", BASE, "--out", str(out), "--steps", "3", "--device", "cpu",
                "--threads", "2"])
    meta = json.loads((out / "model.json").read_text())
    base = json.loads(open(os.path.join(BASE, "model.json")).read())
    for key in ("name", "dim", "maxQueryTokens", "maxPassageTokens", "normalized", "query", "passage", "vocab",
                "sha256", "onnx", "edgeQuery", "edgeQueryVariants", "parity", "architecture", "recipe", "fusion"):
        assert key in meta, key
    assert meta["name"] == "adapted" and meta["architecture"] == "i3" and meta["fusion"] == base["fusion"]
    assert meta["recipe"]["train_args"] == base["recipe"]["train_args"]  # onnx_weights rebuilds the heads from it
    assert meta["recipe"]["adapt"]["steps"] == 3 and meta["recipe"]["adapt"]["docs"] == 24  # the empty one skipped
    for f in ("query.onnx", "passage.onnx", "query.int8.onnx", "vocab.json"):
        assert (out / f).is_file(), f
    ids, mask = _batch()
    for f in ("query.onnx", "passage.onnx"):
        new = _run(ort.InferenceSession(str(out / f), providers=["CPUExecutionProvider"]), ids, mask)
        old = _run(ort.InferenceSession(os.path.join(BASE, f), providers=["CPUExecutionProvider"]), ids, mask)
        assert new.shape == old.shape == (3, 512)
        assert np.allclose(np.linalg.norm(new, axis=1), 1.0, atol=1e-4)
        assert np.abs(new - old).max() > 1e-4, f"{f} did not change"
        assert (new * old).sum(axis=1).min() > 0.5, f"{f} moved far in 3 steps"
    edge = _run(ort.InferenceSession(str(out / "query.int8.onnx"), providers=["CPUExecutionProvider"]), ids[:1], mask[:1])
    assert edge.shape == (1, 512)
    events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert events[0] == "start" and events[-1] == "done" and "mined" in events


def test_pseudo_queries_are_spans_of_their_passage(corpus, tmp_path):
    path = tmp_path / "pseudo.jsonl"
    adapt.main(["--corpus", str(corpus), "--model", BASE, "--out", str(tmp_path / "x"), "--steps", "2",
                "--pseudo", str(path), "--pseudo-only"])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    _, texts = adapt.read_corpus(str(corpus))
    assert len(rows) == 2 * adapt.RECIPE["batch"]
    for r in rows:
        assert 4 <= len(r["ids"]) <= 12 and r["text"].lower() in texts[r["doc"]].lower()
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, message", [
    (["--corpus", "/nonexistent/corpus.jsonl"], "not found"),
    (["--model", os.path.join(ROOT, "models", "use-lite")], "needs an I^3 model"),
    (["--model", ROOT + "/offline"], "no model.json"),
])
def test_bad_inputs_are_command_errors(corpus, tmp_path, args, message):
    argv = {"--corpus": str(corpus), "--model": BASE, "--out": str(tmp_path / "o"), "--steps": "1"}
    argv.update(dict(zip(args[::2], args[1::2])))
    with pytest.raises(CommandError, match=re.escape(message)):
        adapt.main([x for kv in argv.items() for x in kv])


def test_an_edge_model_below_the_int8_bar_is_fp16(corpus, tmp_path, monkeypatch):
    """npl's adapted query tower missed the int8 cosine bar (0.9943 < 0.995); a bar int8 cannot clear here (0.9999)
    stands in for it: the export ships the fp16 query model instead of failing after training."""
    from offline.train import export

    monkeypatch.setattr(export, "MIN_EDGE_COSINE", 0.9999)
    out = tmp_path / "adapted"
    adapt.main(["--corpus", str(corpus), "--model", BASE, "--out", str(out), "--steps", "1", "--device", "cpu"])
    meta = json.loads((out / "model.json").read_text())
    assert meta["edgeQuery"] == "query.fp16.onnx" and list(meta["edgeQueryVariants"]) == ["query.fp16.onnx"]
    variant = meta["edgeQueryVariants"]["query.fp16.onnx"]
    assert variant["weights"] == "fp16" and variant["cosineToFp32"]["min"] >= 0.9999
    assert not (out / "query.int8.onnx").exists() and (out / "query.fp16.onnx").is_file()
    assert set(meta["sha256"]) == {"query.onnx", "passage.onnx", "query.fp16.onnx", "vocab.json"}
