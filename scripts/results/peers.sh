#!/usr/bin/env bash
# The peer table of issue #12 (docs/RESULTS.md): bench:peers at 100k and 1M vectors of 512 dims, clustered and
# uniform. One command per group of peers so that each stays under 10 minutes on a 2-core machine (an HNSW build of
# 100k takes minutes in wasm); at 1M only the peers that build in minutes and fit in memory (see the report).
# JSON lines are appended to runs/peers-<size>-<distribution>.jsonl; tables go to stderr.
# Usage: bash scripts/results/peers.sh [clustered] [uniform]
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p runs
run() { local name=$1; shift; timeout 600 npm run --silent bench:peers -- --json "$@" >> "runs/peers-$name.jsonl"; }
for D in ${*:-clustered uniform}; do
  run "100k-$D" --n 100000 --distribution "$D" --peers float32,i3,i3-exact,orama,voy --budget-s 150
  run "100k-$D" --n 100000 --distribution "$D" --peers i3-ivf --budget-s 300
  run "100k-$D" --n 100000 --distribution "$D" --peers usearch --budget-s 560
  run "100k-$D" --n 100000 --distribution "$D" --peers hnswlib --budget-s 560
  run "100k-$D" --n 100000 --distribution "$D" --peers edgevec --budget-s 560
  run "1m-$D" --n 1000000 --distribution "$D" --peers i3,float32 --budget-s 200
  run "1m-$D" --n 1000000 --distribution "$D" --peers i3-exact --budget-s 400
  run "1m-$D" --n 1000000 --distribution "$D" --peers i3-ivf --budget-s 500
done
