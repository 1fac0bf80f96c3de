#!/usr/bin/env bash
# tmp/i3-<variant>: a model dir whose `query` is models/i3-scifact/query.<variant>.onnx, to measure an edge query
# model with `npm run eval -- --model tmp/i3-<variant>`. Usage: bash scripts/results/edge-variant-model.sh int8|fp16
set -euo pipefail
cd "$(dirname "$0")/../.."
v=$1
mkdir -p tmp/i3-$v
for f in passage.onnx query.$v.onnx vocab.json; do ln -sf "$PWD/models/i3-scifact/$f" tmp/i3-$v/$f; done
python3 -c "
import json; m = json.load(open('models/i3-scifact/model.json')); m['query'] = 'query.$v.onnx'; m['name'] = 'i3-scifact-$v'
m.pop('edgeQuery', None); json.dump(m, open('tmp/i3-$v/model.json', 'w'), indent=1)"
