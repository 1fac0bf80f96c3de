"""The static query tier: the I3SQ writer (byte layout, CRCs, int8 rows), the reference encoder, a training smoke
run, and the shipped model's parity fixture (which the Node tests read with the TypeScript decoder and encoder)."""
import json
import os
import struct
import zlib

import numpy as np
import pytest
import torch

from offline.train import static_export as sx
from offline.train import static_train as st

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def tiny_model(vocab=40, dims=16, seed=0):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(vocab, dims)).astype(np.float32)
    table[3] = 0  # an all-zero row: scale 0
    weights = rng.uniform(0.1, 2, size=vocab).astype(np.float32)
    return weights, table


def test_layout_header_and_crcs():
    weights, table = tiny_model()
    b = sx.encode_static(weights, table, max_tokens=8)
    assert b[:4] == b"I3SQ"
    major, minor, dims, vocab, max_tokens, enc, w_at, s_at, t_at, total, body_crc, head_crc = struct.unpack("<HHIIIIIIIIII", b[4:48])
    assert (major, minor, dims, vocab, max_tokens, enc) == (1, 0, 16, 40, 8, 1)
    assert (w_at, s_at, t_at, total) == (48, 48 + 160, 48 + 320, 48 + 320 + 640) and len(b) == total
    assert body_crc == zlib.crc32(b[48:]) and head_crc == zlib.crc32(b[:44])


def test_round_trip_within_int8_error():
    weights, table = tiny_model()
    m = sx.decode_static(sx.encode_static(weights, table, max_tokens=8))
    assert np.array_equal(m["weights"], weights)
    deq = m["table"].astype(np.float32) * m["scales"][:, None]
    err = np.abs(deq - table).max(axis=1)
    assert np.all(err <= m["scales"] / 2 + 1e-7)
    assert m["scales"][3] == 0 and not m["table"][3].any()


def test_decoder_rejects_corruption():
    weights, table = tiny_model()
    b = bytearray(sx.encode_static(weights, table, max_tokens=8))
    for mutate in (lambda x: x.__setitem__(0, ord("X")), lambda x: x.__setitem__(100, x[100] ^ 1), lambda x: x.__setitem__(8, 17)):
        bad = bytearray(b)
        mutate(bad)
        with pytest.raises(ValueError):
            sx.decode_static(bytes(bad))
    with pytest.raises(ValueError):
        sx.decode_static(bytes(b[:-1]))


def test_reference_encoder():
    weights, table = tiny_model()
    m = sx.decode_static(sx.encode_static(weights, table, max_tokens=3))
    deq = m["table"].astype(np.float64) * m["scales"][:, None]
    ids = [5, 7, 5, 9, 11]  # truncated to the first 3; a repeated id counts twice
    want = 2 * weights[5] * deq[5] + weights[7] * deq[7]
    np.testing.assert_allclose(sx.encode_ids(m, ids), want / np.linalg.norm(want), atol=1e-6)
    assert np.array_equal(sx.encode_ids(m, [99]), sx.encode_ids(m, [0]))  # out of vocab -> unk
    assert not sx.encode_ids(m, [3]).any()  # zero row: zero vector, not NaN


def test_training_moves_toward_the_teacher(tmp_path):
    rng = np.random.default_rng(0)
    V, D, N, P = 30, 8, 400, 50
    lens = rng.integers(1, 6, size=N)
    flat = rng.integers(0, V, size=int(lens.sum())).astype(np.int32)
    truth = rng.normal(size=(V, D)).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    q = np.stack([truth[flat[offsets[i]: offsets[i + 1]]].sum(0) for i in range(N)])
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    pvec = rng.normal(size=(P, D)).astype(np.float32)
    pvec /= np.linalg.norm(pvec, axis=1, keepdims=True)
    data = tmp_path / "d.npz"
    np.savez(data, texts=json.dumps([""] * N), sources=np.zeros(N, np.int8), positives=np.where(np.arange(N) % 3 == 0, np.arange(N) % P, -1),
             lens=lens, flat=flat, qvec=q.astype(np.float16), tokvec=rng.normal(size=(V, D)).astype(np.float32),
             pvec=pvec.astype(np.float16), meta=json.dumps({"teacher": "t"}))
    out = tmp_path / "ck.pt"
    st.main(["--data", str(data), "--out", str(out), "--epochs", "30", "--batch", "64", "--bank", "16", "--warmup", "5", "--lr", "0.05", "--holdout", "0.1"])
    ck = torch.load(out)
    assert ck["heldout"]["cosToTeacher"] > ck["heldoutAtStart"]["cosToTeacher"] + 0.2
    assert ck["table"].shape == (V, D) and torch.all(ck["weights"] > 0)


def test_shipped_fixture_matches_the_shipped_model():
    path = os.path.join(ROOT, "test", "fixtures", "static-query-cases.json")
    if not os.path.exists(path):
        pytest.skip("no static query fixture exported")
    fx = json.load(open(path))
    b = open(os.path.join(os.path.dirname(path), fx["model"]), "rb").read()
    m = sx.decode_static(b)
    for c in fx["cases"]:
        np.testing.assert_allclose(sx.encode_ids(m, c["ids"]), c["vector"], atol=1e-6)
