"""The passage tower rebuilt in PyTorch from a shipped passage.onnx (offline/train/onnx_weights.py) and the encode
server that serves it to `i3 build --encoder torch` (offline/train/encode_server.py): onnxruntime is the oracle."""
import io
import json
import os
import struct

import numpy as np
import onnxruntime as ort
import pytest
import torch

from offline.train.encode_server import serve
from offline.train.onnx_weights import WeightError, passage_tower

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

MODELS = [os.path.join(ROOT, "models", m) for m in ("i3-scifact", "use-lite")]


def _batch():
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 8000, size=(5, 64)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 30:] = 0
    mask[2, 3:] = 0
    mask[4, 1:] = 0
    return ids, mask


def _onnx(model_dir, ids, mask):
    meta = json.load(open(os.path.join(model_dir, "model.json"), encoding="utf-8"))
    sess = ort.InferenceSession(os.path.join(model_dir, meta["passage"]), providers=["CPUExecutionProvider"])
    return sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]


@pytest.mark.parametrize("model_dir", MODELS, ids=os.path.basename)
def test_torch_tower_equals_onnxruntime(model_dir):
    ids, mask = _batch()
    with torch.inference_mode():
        got = passage_tower(model_dir)(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    want = _onnx(model_dir, ids, mask)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5
    assert (got * want).sum(axis=1).min() > 1 - 1e-6


def test_a_model_json_that_does_not_match_the_graph_is_refused(tmp_path):
    src = os.path.join(ROOT, "models", "i3-scifact")
    dst = tmp_path / "m"
    dst.mkdir()
    for f in ("passage.onnx",):
        os.symlink(os.path.join(src, f), dst / f)
    meta = json.load(open(os.path.join(src, "model.json"), encoding="utf-8"))
    meta["recipe"]["train_args"]["n_slots"] = 8  # the graph has 16
    (dst / "model.json").write_text(json.dumps(meta))
    with pytest.raises(WeightError, match="slots"):
        passage_tower(str(dst))


def test_encode_server_protocol():
    model_dir = MODELS[0]
    ids, mask = _batch()
    lengths = mask.sum(axis=1).astype("<i4")
    req = struct.pack("<II", *ids.shape) + ids.astype("<i4").tobytes() + lengths.tobytes() + struct.pack("<II", 0, 0)
    out = io.BytesIO()
    serve(model_dir, "cpu", stdin=io.BytesIO(req), stdout=out)
    buf = out.getvalue()
    assert buf[:4] == b"I3TS"
    version, dim, n = struct.unpack("<III", buf[4:16])
    assert (version, dim, buf[16:16 + n]) == (1, 512, b"cpu")
    at = 16 + n
    b, d = struct.unpack("<II", buf[at:at + 8])
    vecs = np.frombuffer(buf[at + 8:], dtype="<f4").reshape(b, d)
    assert (b, d) == (5, 512)
    assert np.abs(vecs - _onnx(model_dir, ids, mask)).max() < 1e-5
