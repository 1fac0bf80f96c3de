#!/usr/bin/env bash
# tmp/scifact-dev: SciFact corpus and queries with qrels/dev.tsv = the 81 train queries that I^3 training held out
# (offline/train/data.py scifact_train_dev, seed 0). Used to tune the fusion weight of i3-scifact; never test.
# Usage: bash scripts/results/make-scifact-dev.sh [<scifact BEIR dir>]   (default: $I3_DATA/scifact)
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${1:-${I3_DATA:?set I3_DATA to the folder of the BEIR corpora (I3_DATA/scifact/corpus.jsonl, ...)}/scifact}
mkdir -p tmp/scifact-dev/qrels
ln -sf "$(realpath "$SRC/corpus.jsonl")" tmp/scifact-dev/corpus.jsonl
ln -sf "$(realpath "$SRC/queries.jsonl")" tmp/scifact-dev/queries.jsonl
I3_DATA=$(dirname "$(realpath "$SRC")") python3 -c "
from offline.train import data
_, dev = data.scifact_train_dev()
with open('tmp/scifact-dev/qrels/dev.tsv', 'w') as f:
    f.write('query-id\tcorpus-id\tscore\n')
    for q, docs in dev.items():
        for d, s in docs.items(): f.write(f'{q}\t{d}\t{s}\n')
print(len(dev), 'dev queries')"
