#!/usr/bin/env bash
# The static query tier of models/i3-scifact (docs/RESULTS.md, "Static query tier"): teacher data, training, export,
# then nDCG@10 dense and hybrid with the static tier and with the query model on the four sets, over the same builds
# (`i3 eval --encoder model|static`; --static-model for builds made before the model had a static tier), and the
# in-process encoding benchmark.
# Usage: I3_DATA=<BEIR dir> MSMARCO=<folder of MS MARCO query *.jsonl> [I3_BUILD=build] bash scripts/results/static-tier.sh [--eval-only]
# Builds: $I3_BUILD/<set>-i3-scifact-split (as regressions/<set>.i3-scifact.*.json build them). Outputs: runs/static/.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${I3_DATA:?set I3_DATA to the folder of the BEIR corpora}
BUILD=${I3_BUILD:-build}
OUT=runs/static
mkdir -p "$OUT/eval"
if [ "${1:-}" != --eval-only ]; then
  python3 -m offline.train.static_data --data-root "$DATA" --msmarco-queries "${MSMARCO:?set MSMARCO}" --model models/i3-scifact --out "$OUT/data.npz"
  python3 -m offline.train.static_train --data "$OUT/data.npz" --out "$OUT/ckpt.pt"
  python3 -m offline.train.static_export --ckpt "$OUT/ckpt.pt" --model models/i3-scifact --fixture test/fixtures/static-query-cases.json --data "$OUT/data.npz"
fi
for set in scifact npl cranfield dl19-judged; do
  for mode in dense hybrid; do
    for enc in model static; do
      extra=(); [ "$enc" = static ] && extra=(--static-model models/i3-scifact/query.static.i3sq)
      npx tsx offline/cli.ts eval --data "$DATA/$set" --index "$BUILD/$set-i3-scifact-split" --mode $mode --k 100 --threads 1 --json \
        --encoder $enc "${extra[@]}" --run "$OUT/eval/$set-$mode-$enc.trec" > "$OUT/eval/$set-$mode-$enc.json"
      node -e 'const r=require(process.argv[1]);console.log(process.argv[2], r.metrics["nDCG@10"].toFixed(4), r.metrics["R@100"].toFixed(4))' "$PWD/$OUT/eval/$set-$mode-$enc.json" "$set $mode $enc"
    done
  done
done
npx tsx scripts/bench-static-encoder.ts --model models/i3-scifact --queries "${MSMARCO:-$DATA/scifact}/$( [ -n "${MSMARCO:-}" ] && echo dev-small.jsonl || echo queries.jsonl)" --n 1000 --rounds 5
