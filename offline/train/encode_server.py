"""Passage encoding over stdin/stdout for `i3 build --encoder torch` (offline/encoder/torch-encoder.ts).

Runs the shipped passage tower in PyTorch (weights read from the model's passage.onnx: offline/train/onnx_weights.py)
on a GPU, or the CPU, for machines that have PyTorch and no onnxruntime CUDA provider. fp32 throughout (TF32 off), so
the vectors match onnxruntime's within float rounding.

Protocol, little-endian. On start the server writes a hello: b"I3TS", u32 version (1), u32 dim, u32 n, then n bytes
of the device's name (e.g. "cuda:0 NVIDIA H200"). Then, per request:
  in:  u32 batch B (0: exit), u32 length L, B*L int32 token ids (row-major, padding anything), B int32 lengths
       (1..L: the first `length` ids of the row are real)
  out: u32 B, u32 dim, B*dim float32 unit vectors
Errors go to stderr and end the process with a non-zero status.

    python -m offline.train.encode_server --model models/i3-scifact --device cuda
"""
from __future__ import annotations

import argparse
import struct
import sys

import numpy as np
import torch

from offline.train.onnx_weights import passage_tower

VERSION = 1


def _read_exact(stream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError(f"stdin closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def serve(model_dir: str, device: str, threads: int = 0, stdin=None, stdout=None) -> None:
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("encode_server: --device cuda, but PyTorch sees no CUDA device")
    if threads > 0:
        torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tower = passage_tower(model_dir).to(device)
    with torch.inference_mode():
        dim = int(tower(torch.ones(1, 1, dtype=torch.long, device=device), torch.ones(1, 1, dtype=torch.long, device=device)).shape[1])
    name = device if not device.startswith("cuda") else f"{device} {torch.cuda.get_device_name(torch.device(device))}"
    hello = name.encode()
    stdout.write(b"I3TS" + struct.pack("<III", VERSION, dim, len(hello)) + hello)
    stdout.flush()
    while True:
        b, length = struct.unpack("<II", _read_exact(stdin, 8))
        if b == 0:
            return
        ids = np.frombuffer(_read_exact(stdin, 4 * b * length), dtype="<i4").reshape(b, length)
        lengths = np.frombuffer(_read_exact(stdin, 4 * b), dtype="<i4")
        if lengths.min() < 1 or lengths.max() > length:
            raise SystemExit(f"encode_server: lengths must be 1..{length}, got {lengths.min()}..{lengths.max()}")
        mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int64)
        with torch.inference_mode():
            out = tower(torch.from_numpy(ids.astype(np.int64)).to(device), torch.from_numpy(mask).to(device))
        vecs = out.float().cpu().numpy().astype("<f4", copy=False)
        stdout.write(struct.pack("<II", b, dim) + vecs.tobytes())
        stdout.flush()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m offline.train.encode_server", description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="model directory with model.json and passage.onnx")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, cpu or auto (cuda when PyTorch sees one; default cuda)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default: PyTorch's choice)")
    a = ap.parse_args(argv)
    try:
        serve(a.model, a.device, a.threads)
    except EOFError:
        pass  # the build went away


if __name__ == "__main__":
    main()
