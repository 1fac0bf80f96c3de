#!/usr/bin/env bash
# Hybrid on four sets with the product defaults (passages split 128/96, the default model's fusion record and int8
# edge query model), offline with the worker's code (`eval --index`): lexical, dense, the index's default hybrid,
# RRF(60), and weighted minmax at REF_WEIGHT (default 0.35, the record before tmm) for reference.
# Usage: [MODEL=models/<name>] bash scripts/results/hybrid-four.sh [sets...]   (default: the default model; scifact npl cranfield dl19-judged)
# Needs /work/shared/data (or DATA=<dir>); cranfield is built from tmp/cranfield-nonempty (its 2 empty docs removed,
# docs/RESULTS.md section 5). Builds go to build/<set>-<model>-split (kept; delete one to rebuild it).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-/work/shared/data}
REF_WEIGHT=${REF_WEIGHT:-0.35}
MODEL=${MODEL:-models/$(node -p 'require("./models/default.json").model')}
SETS=${*:-scifact npl cranfield dl19-judged}
mkdir -p tmp runs
for D in $SETS; do
  SRC=$DATA/$D
  [ "$D" = cranfield ] && SRC=tmp/cranfield-nonempty
  OUT=build/$D-$(basename "$MODEL")-split
  [ -f "$OUT/manifest.json" ] || npx tsx offline/cli.ts build --corpus "$SRC" --model "$MODEL" --out "$OUT" --force > "tmp/build-$D-split.log" 2>&1
  ev() { npm run -s eval -- --data "$DATA/$D" --index "$OUT" --k 100 "$@" 2>&1 | grep -E "^$D " || true; }
  echo "$D lexical:         $(ev --mode lexical)"
  echo "$D dense:           $(ev --mode dense)"
  echo "$D hybrid default:  $(ev --mode hybrid)"
  echo "$D hybrid rrf:      $(ev --mode hybrid --fusion rrf)"
  echo "$D hybrid minmax $REF_WEIGHT: $(ev --mode hybrid --fusion "weighted:$REF_WEIGHT:minmax")"
done
