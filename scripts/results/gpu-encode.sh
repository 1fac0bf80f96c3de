#!/usr/bin/env bash
# The GPU half of #15 item 2, as one device run (the H200 machine has PyTorch with CUDA and onnxruntime for the CPU,
# no Node): the PyTorch passage tower that `i3 build --encoder torch` drives, its parity to onnxruntime, and its
# passages/s at 128 tokens on the demo SciFact corpus (5,183 documents, first windows), at three batch sizes.
#
# The device tool sends the working tree, at most 64 MiB, and the tracked models alone are larger: move what this
# run does not read out of the tree first, and back after (it needs models/i3-scifact/{model.json,passage.onnx,
# vocab.json}, offline/train and data/demo/scifact):
#   mkdir -p ../parked && mv models/use-lite models/i3-scifact/query*.onnx ../parked/
#   device run: bash scripts/results/gpu-encode.sh          (timeout_s 300 is plenty)
#   mv ../parked/use-lite models/ && mv ../parked/query*.onnx models/i3-scifact/
# Results (one JSON line per batch size, and the parity tests' output) go to $OUT (or ./tmp/gpu-encode).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-tmp/gpu-encode}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -m pytest -q -p no:cacheprovider offline/train/tests/test_onnx_weights.py 2>&1 | tail -3 | tee "$out/parity.txt"
for b in 256 512 1024; do
  python3 -m offline.train.encode_bench --model models/i3-scifact --corpus data/demo/scifact/corpus.jsonl \
    --device cuda --batch "$b" --repeat 3 --json 2>&1 | tail -1 | tee -a "$out/encode.jsonl"
done
