"""Exports a trained static query tier (offline.train.static_train) into a model folder: the `I3SQ` object (the
byte layout of src/format/static-query.ts, which reads it; this is its one writer), the `static` entry and sha256 of
model.json, and the parity fixture the Node tests check the TypeScript encoder against.

    python -m offline.train.static_export --ckpt runs/static/ckpt.pt --model models/i3-scifact \\
        [--fixture test/fixtures/static-query-cases.json]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import zlib
from typing import List, Sequence

import numpy as np

from offline.train.cli import CommandError, run_main
from offline.train.export import read_sidecar, sha256, write_sidecar
from offline.train.tokenizer import Tokenizer

MAGIC = b"I3SQ"
MAJOR, MINOR = 1, 0
HEADER_BYTES = 48
TABLE_INT8 = 1
FILE_NAME = "query.static.i3sq"

# Texts of the parity fixture: short and long (truncated at maxTokens), punctuation, digits, non-ASCII, unk.
FIXTURE_TEXTS = [
    "vitamin D and bone density",
    "what is the boiling point of water at high altitude",
    "Does 0-dimensional biomaterials show inductive properties?",
    "boundary layer transition on a flat plate at supersonic mach numbers with heat transfer and pressure gradient "
    "effects measured in a wind tunnel, compared with the theory of small disturbances and the experiments of earlier "
    "investigators at lower speeds and higher reynolds numbers",
    "café Ünïcödé — naïve façade 東京 😀",
    "x",
]


def quantize_rows(table: np.ndarray):
    """Per-row symmetric int8: scale = max |row| / 127 (0 for an all-zero row); returns (int8 rows, float32 scales)."""
    table = np.asarray(table, dtype=np.float32)
    amax = np.abs(table).max(axis=1)
    scales = (amax / 127.0).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    q = np.clip(np.rint(table / safe[:, None]), -127, 127).astype(np.int8)
    return q, scales


def encode_static(weights: np.ndarray, table_f32: np.ndarray, max_tokens: int) -> bytes:
    """The I3SQ bytes of pooling weights [V] and a float table [V, D] (quantized here to int8 rows)."""
    weights = np.asarray(weights, dtype=np.float32)
    vocab, dims = table_f32.shape
    if weights.shape != (vocab,) or not np.all(np.isfinite(weights)) or not np.all(np.isfinite(table_f32)):
        raise ValueError("weights must be [vocab] and everything finite")
    q, scales = quantize_rows(table_f32)
    weights_at = HEADER_BYTES
    scales_at = weights_at + 4 * vocab
    table_at = scales_at + 4 * vocab
    total = table_at + vocab * dims
    body = weights.astype("<f4").tobytes() + scales.astype("<f4").tobytes() + q.tobytes()
    head = MAGIC + struct.pack("<HHIIIIIIII", MAJOR, MINOR, dims, vocab, max_tokens, TABLE_INT8, weights_at, scales_at, table_at, total)
    head += struct.pack("<I", zlib.crc32(body))
    head += struct.pack("<I", zlib.crc32(head))
    assert len(head) == HEADER_BYTES and len(head) + len(body) == total
    return head + body


def decode_static(b: bytes) -> dict:
    """Reads I3SQ bytes back (checks magic, version, CRCs, layout): {dims, vocab, max_tokens, weights, scales, table}."""
    if len(b) < HEADER_BYTES or b[:4] != MAGIC:
        raise ValueError("not a static query model (magic)")
    major, _minor, dims, vocab, max_tokens, enc, w_at, s_at, t_at, total, body_crc, head_crc = struct.unpack("<HHIIIIIIIIII", b[4:HEADER_BYTES])
    if major != MAJOR or zlib.crc32(b[:44]) != head_crc or enc != TABLE_INT8:
        raise ValueError("static query model: version, header crc or encoding")
    if (w_at, s_at, t_at, total) != (HEADER_BYTES, HEADER_BYTES + 4 * vocab, HEADER_BYTES + 8 * vocab, HEADER_BYTES + 8 * vocab + vocab * dims) or len(b) != total:
        raise ValueError("static query model: layout")
    if zlib.crc32(b[HEADER_BYTES:]) != body_crc:
        raise ValueError("static query model: body crc")
    return {
        "dims": dims, "vocab": vocab, "max_tokens": max_tokens,
        "weights": np.frombuffer(b, "<f4", vocab, w_at), "scales": np.frombuffer(b, "<f4", vocab, s_at),
        "table": np.frombuffer(b, np.int8, vocab * dims, t_at).reshape(vocab, dims),
    }


def encode_ids(m: dict, ids: Sequence[int]) -> np.ndarray:
    """The reference encoder (src/search/static-encoder.ts does the same): weighted sum of the first max_tokens
    tokens' rows (unknown ids count as 0), L2-normalised; the zero vector stays zero."""
    coef = (m["weights"] * m["scales"]).astype(np.float32)
    v = np.zeros(m["dims"], dtype=np.float64)
    for t in list(ids)[: m["max_tokens"]]:
        t = t if 0 <= t < m["vocab"] else 0
        v += float(coef[t]) * m["table"][t].astype(np.float64)
    n = np.linalg.norm(v)
    return (v / n if n > 0 else v).astype(np.float32)


def fixture_cases(m: dict, tok: Tokenizer, texts: List[str]) -> list:
    out = []
    for t in texts:
        ids = tok.encode(t)
        out.append({"text": t, "ids": ids, "vector": [round(float(x), 8) for x in encode_ids(m, ids)]})
    return out


def main(argv=None) -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--model", required=True, help="model folder to write into (model.json is updated)")
    ap.add_argument("--fixture", default="", help="write the TS parity fixture here")
    ap.add_argument("--data", default="", help="the training data file, to measure the int8 table on the held-out texts")
    a = ap.parse_args(argv)
    ck = torch.load(a.ckpt, map_location="cpu")
    meta = read_sidecar(a.model)
    table = ck["table"].numpy().astype(np.float32)
    weights = ck["weights"].numpy().astype(np.float32)
    if table.shape != (len(json.load(open(os.path.join(a.model, meta["vocab"])))), meta["dim"]):
        raise CommandError(f"checkpoint table {table.shape} does not fit {a.model} (vocab x {meta['dim']})")
    b = encode_static(weights, table, meta["maxQueryTokens"])
    path = os.path.join(a.model, FILE_NAME)
    with open(path, "wb") as f:
        f.write(b)
    m = decode_static(open(path, "rb").read())
    record = {
        "bytes": len(b), "table": "int8 rows with a float32 scale each; float32 pooling weights",
        "teacher": ck["data"]["teacher"], "recipe": ck["recipe"], "data": ck["data"], "heldout": ck["heldout"],
        "heldoutAtStart": ck["heldoutAtStart"], "trainSeconds": round(ck["seconds"]),
        "source": "offline/train/static_data.py, static_train.py, static_export.py; docs/RESULTS.md (static query tier)",
    }
    if a.data:
        z = np.load(a.data)
        lens, flat = z["lens"], z["flat"]
        offsets = np.concatenate([[0], np.cumsum(lens)])
        hold = ck["holdout"][:2000]
        cos = []
        for i in hold:
            ids = flat[offsets[i]: offsets[i] + lens[i]].tolist()
            v8 = encode_ids(m, ids)
            w = weights[ids][:, None] * table[ids]
            v32 = w.sum(0) / max(1e-12, np.linalg.norm(w.sum(0)))
            cos.append(float(v8 @ v32))
        record["int8CosToFloat"] = {"mean": float(np.mean(cos)), "min": float(np.min(cos)), "texts": len(cos)}
    meta["static"] = FILE_NAME
    meta.setdefault("sha256", {})[FILE_NAME] = sha256(path)
    meta["staticQuery"] = record
    write_sidecar(a.model, meta)
    print(f"wrote {path} ({len(b)} bytes) and {a.model}/model.json")
    if a.fixture:
        tok = Tokenizer.from_file(os.path.join(a.model, meta["vocab"]))
        fx = {"model": os.path.relpath(path, os.path.dirname(os.path.abspath(a.fixture))).replace(os.sep, "/"),
              "sha256": meta["sha256"][FILE_NAME], "cases": fixture_cases(m, tok, FIXTURE_TEXTS)}
        with open(a.fixture, "w") as f:
            json.dump(fx, f, indent=1)
            f.write("\n")
        print(f"wrote {a.fixture}")


if __name__ == "__main__":
    run_main(main)
