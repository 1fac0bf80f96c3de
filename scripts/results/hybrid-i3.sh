#!/usr/bin/env bash
# Usage: I3_DATA=<BEIR folders> bash scripts/results/hybrid-i3.sh (needs tmp/cranfield-nonempty: cranfield without its 2 empty docs)
# Hybrid table with the shipped I^3 model: no-split builds of npl, cranfield (non-empty docs), dl19-judged; offline --index eval per mode.
set -u
cd "$(dirname "$0")/../.."
DATA=${I3_DATA:?set I3_DATA to the folder of the BEIR corpora (I3_DATA/scifact/corpus.jsonl, ...)}
for D in npl cranfield dl19-judged; do
  SRC=$DATA/$D
  [ "$D" = cranfield ] && SRC=tmp/cranfield-nonempty
  OUT=build/$D-i3
  [ -f $OUT/manifest.json ] || npx tsx offline/cli.ts build --corpus $SRC --out $OUT --no-split --force > tmp/build-$D-i3.log 2>&1
  for M in lexical dense hybrid; do
    npm run eval -- --data $DATA/$D --index $OUT --mode $M --k 100 --run runs/$D-i3-$M.trec 2>&1 | grep -E "^$D " | sed "s/^/$M /"
  done
  npm run eval -- --data $DATA/$D --index $OUT --mode hybrid --fusion rrf --k 100 --run runs/$D-i3-rrf.trec 2>&1 | grep -E "^$D " | sed "s/^/rrf /"
done
