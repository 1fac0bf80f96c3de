"""USE-lite PyTorch port and ONNX export vs the TF.js oracle (test/fixtures/use-lite-vectors.json).

    python -m pytest offline/train/tests -q
"""
import hashlib
import json
import math
import os

import numpy as np
import pytest
import torch

from offline.train.use_lite import UseLite, read_tfjs_weights

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL_DIR = os.path.join(ROOT, "models", "use-lite")

MAX_TOKENS = 128
TOL = 1e-5


def dense(seqs, length=None, pad_id=0):
    """Right-padded int64 (ids, mask) numpy arrays; ids truncated to the first 128."""
    seqs = [list(s)[:MAX_TOKENS] for s in seqs]
    L = length or max(1, max(len(s) for s in seqs))
    ids = np.full((len(seqs), L), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), L), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def torch_embed(model, ids, mask):
    with torch.no_grad():
        return model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()


# ------------------------------------------------------------------ the port itself
def test_weights_and_constants(tfjs_dir, use_lite):
    assert sum(p.numel() for p in use_lite.parameters()) == 6_975_744
    # inv_ts is loaded from the graph constant and matches the tensor2tensor formula
    k = np.arange(128)
    np.testing.assert_allclose(use_lite.inv_ts.numpy(), np.exp(-k * math.log(1e4) / 127), rtol=0, atol=5e-8)
    w = read_tfjs_weights(tfjs_dir)
    stored = next(v for name, v in w.items() if name.endswith("AddTimingSignal/TimingSignal/ExpandDims_1"))
    assert np.array_equal(use_lite.inv_ts.numpy(), stored.reshape(-1))
    assert sum(a.nbytes for a in w.values()) == 27_903_656


def test_fixture_shape(oracle):
    rows = oracle["rows"]
    assert len(rows) >= 60
    assert any(len(r["ids"]) > MAX_TOKENS for r in rows)
    assert any(r["text"] == "" for r in rows)
    assert all(len(r["vector"]) == 512 for r in rows)


def test_torch_rows_vs_tfjs(use_lite, oracle):
    worst = 0.0
    for r in oracle["rows"]:
        ids, mask = dense([r["ids"]])
        got = torch_embed(use_lite, ids, mask)[0]
        d = float(np.abs(got - np.asarray(r["vector"])).max())
        assert d <= TOL, f"{r['text'][:40]!r}: max abs diff {d}"
        worst = max(worst, d)
    print(f"torch vs TF.js, {len(oracle['rows'])} rows: max abs diff {worst:.3g}")


def test_torch_batches_vs_tfjs(use_lite, oracle):
    rows = oracle["rows"]
    assert oracle["batches"]
    for b in oracle["batches"]:
        ids, mask = dense([rows[i]["ids"] for i in b["rows"]])
        got = torch_embed(use_lite, ids, mask)
        assert np.abs(got - np.asarray(b["vectors"])).max() <= TOL


def test_padding_and_batching_invariance(use_lite, oracle):
    rows = oracle["rows"][:12] + [r for r in oracle["rows"] if r["text"] == ""]
    seqs = [r["ids"] for r in rows]
    single = np.concatenate([torch_embed(use_lite, *dense([s])) for s in seqs])
    # one batch padded to the full 128 window, with junk ids in the padding
    ids, mask = dense(seqs, length=MAX_TOKENS, pad_id=7777)
    padded = torch_embed(use_lite, ids, mask)
    assert np.abs(padded - single).max() <= 1e-6
    # token_states at real tokens don't depend on the padding either
    with torch.no_grad():
        a = use_lite.token_states(*map(torch.from_numpy, dense([seqs[1]])))
        b = use_lite.token_states(torch.from_numpy(ids[1:2]), torch.from_numpy(mask[1:2]))
    n = len(seqs[1])
    assert b.shape == (1, MAX_TOKENS, 512)
    assert (a[0, :n] - b[0, :n]).abs().max() <= 1e-4  # |states| up to ~80


def test_empty_string_is_normalized_tanh_bias(use_lite, oracle):
    row = next(r for r in oracle["rows"] if r["text"] == "")
    t = torch.tanh(use_lite.tanh_layer.bias.detach())
    expect = (t / t.norm()).numpy()
    assert np.abs(expect - np.asarray(row["vector"])).max() <= TOL
    got = torch_embed(use_lite, *dense([[]]))[0]
    assert np.abs(got - expect).max() <= TOL


def test_forward_is_normalized_pool(use_lite, oracle):
    ids, mask = dense([r["ids"] for r in oracle["rows"][:5]])
    ti, tm = torch.from_numpy(ids), torch.from_numpy(mask)
    with torch.no_grad():
        states = use_lite.token_states(ti, tm)
        pooled = use_lite.pool(states, tm)
        out = use_lite(ti, tm)
    assert states.shape == (5, ids.shape[1], 512) and pooled.shape == (5, 512)
    assert torch.allclose(out, pooled / pooled.norm(dim=-1, keepdim=True), atol=1e-6)
    assert torch.allclose(out.norm(dim=-1), torch.ones(5), atol=1e-5)


def test_checkpoint_roundtrip(use_lite, oracle, tmp_path):
    path = str(tmp_path / "use_lite.pt")
    use_lite.save(path, note="test")
    loaded = UseLite.load(path).eval()
    assert loaded.config == use_lite.config
    for k, v in use_lite.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    ids, mask = dense([r["ids"] for r in oracle["rows"][:4]])
    assert np.array_equal(torch_embed(use_lite, ids, mask), torch_embed(loaded, ids, mask))
    # fine-tuning overrides: dropout only acts in train mode
    ft = UseLite.load(path, dropout=0.1, attention_dropout=0.1)
    assert ft.config.dropout == 0.1
    ft.train()
    with torch.no_grad():
        noisy = ft(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert np.abs(noisy - torch_embed(use_lite, ids, mask)).max() > 1e-4
    ft.eval()
    assert np.abs(torch_embed(ft, ids, mask) - torch_embed(use_lite, ids, mask)).max() == 0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_is_finite(use_lite, oracle, dtype):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    m = UseLite(use_lite.config)
    m.load_state_dict(use_lite.state_dict())
    m = m.to(device=device, dtype=dtype).eval()
    assert m.inv_ts.dtype == torch.float32 and torch.equal(m.inv_ts.cpu(), use_lite.inv_ts)  # not rounded by .to()
    seqs = [r["ids"] for r in oracle["rows"][:8]] + [[]]
    ids, mask = dense(seqs, length=MAX_TOKENS)
    with torch.no_grad():
        out = m(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)).float().cpu().numpy()
    assert np.isfinite(out).all()
    ref = torch_embed(use_lite, ids, mask)
    assert (out * ref).sum(-1).min() > 0.99


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(use_lite, oracle):
    m = UseLite(use_lite.config)
    m.load_state_dict(use_lite.state_dict())
    m = m.cuda().eval()
    ids, mask = dense([r["ids"] for r in oracle["rows"]])
    with torch.no_grad():
        out = m(torch.from_numpy(ids).cuda(), torch.from_numpy(mask).cuda()).cpu().numpy()
    assert np.abs(out - np.asarray([r["vector"] for r in oracle["rows"]])).max() <= 1e-4  # TF32 may be on


# ------------------------------------------------------------------ ONNX
def _ort_check(path, oracle, tol=TOL):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"]
    assert all(i.type == "tensor(int64)" for i in sess.get_inputs())
    assert [o.name for o in sess.get_outputs()] == ["embedding"]
    run = lambda ids, mask: sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]  # noqa: E731
    rows = oracle["rows"]
    worst = 0.0
    for r in rows:
        got = run(*dense([r["ids"]]))
        assert got.dtype == np.float32 and got.shape == (1, 512)
        worst = max(worst, float(np.abs(got[0] - np.asarray(r["vector"])).max()))
    for b in oracle["batches"]:
        got = run(*dense([rows[i]["ids"] for i in b["rows"]]))
        worst = max(worst, float(np.abs(got - np.asarray(b["vectors"])).max()))
    ids, mask = dense([r["ids"] for r in rows[:10]], length=MAX_TOKENS, pad_id=5)
    worst = max(worst, float(np.abs(run(ids, mask) - np.asarray([r["vector"] for r in rows[:10]])).max()))
    assert worst <= tol, worst
    return worst


def test_shipped_onnx_vs_tfjs(oracle):
    path = os.path.join(MODEL_DIR, "encoder.onnx")  # shipped in the repo: missing is a failure
    worst = _ort_check(path, oracle)
    print(f"ORT (python) vs TF.js: max abs diff {worst:.3g}")
    sidecar = json.load(open(os.path.join(MODEL_DIR, "model.json"), encoding="utf-8"))
    assert sidecar["dim"] == 512 and sidecar["normalized"] is True
    for name, digest in sidecar["sha256"].items():
        with open(os.path.join(MODEL_DIR, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


def test_fresh_export_vs_tfjs(use_lite, oracle, tmp_path):
    import onnx

    from offline.train.export import OPSET, export_onnx

    path = str(tmp_path / "encoder.onnx")
    export_onnx(use_lite, path)
    m = onnx.load(path)
    assert m.opset_import[0].version == OPSET
    assert {n.op_type for n in m.graph.node} <= {
        "Add", "Cast", "Clip", "Concat", "Constant", "Cos", "Div", "Gather", "Gemm", "LayerNormalization", "MatMul",
        "Mul", "Range", "ReduceSum", "Relu", "Reshape", "Shape", "Sin", "Softmax", "Split", "Sqrt", "Sub", "Tanh",
        "Transpose", "Unsqueeze", "Slice", "Expand", "Equal", "Where", "ConstantOfShape", "Squeeze",
    }
    _ort_check(path, oracle)


def test_int8_query_model(oracle):
    import onnxruntime as ort

    path = os.path.join(MODEL_DIR, "query.int8.onnx")  # shipped in the repo: missing is a failure
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rows = oracle["rows"]
    got = np.concatenate([sess.run(["embedding"], dict(zip(["input_ids", "attention_mask"], dense([r["ids"]]))))[0]
                          for r in rows])
    ref = np.asarray([r["vector"] for r in rows])
    cos = (got * ref).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(ref, axis=-1)
    assert cos.min() >= 0.995, cos.min()
