#!/usr/bin/env bash
# Hybrid on four sets with the product defaults (passages split 128/96, the model's fusion record and edge query
# model): lexical, dense, the index's default hybrid, RRF(60), and weighted minmax at REF_WEIGHT (default 0.35, the
# record before tmm) for reference. Offline with the worker's code (`eval --index`), or with --worker through the
# running worker: the builds are published to the local R2 as tenant "eval", index <set>, `wrangler dev` is started on
# PORT (default 8787), and each cell is evaluated from a client (`eval --endpoint`).
# Usage: [MODEL=models/<name>] bash scripts/results/hybrid-four.sh [--worker] [sets...]
#        (default: the default model; scifact npl cranfield dl19-judged)
# Needs DATA=<dir> or I3_DATA=<dir> (the BEIR folders); cranfield is built from tmp/cranfield-nonempty (its 2 empty docs removed,
# docs/RESULTS.md section 5). Builds go to build/<set>-<model>-split (kept; delete one to rebuild it).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"  # Node 22 (the node@22 dev dependency) for wrangler
DATA=${DATA:-${I3_DATA:?set I3_DATA to the folder of the BEIR corpora (I3_DATA/scifact/corpus.jsonl, ...)}}
PORT=${PORT:-8787}
REF_WEIGHT=${REF_WEIGHT:-0.35}
MODEL=${MODEL:-models/$(node -p 'require("./models/default.json").model')}
WORKER=false
if [ "${1:-}" = --worker ]; then WORKER=true; shift; fi
SETS=${*:-scifact npl cranfield dl19-judged}
mkdir -p tmp runs
out() { echo "build/$1-$(basename "$MODEL")-split"; }

for D in $SETS; do
  SRC=$DATA/$D
  [ "$D" = cranfield ] && SRC=tmp/cranfield-nonempty
  [ -f "$(out "$D")/manifest.json" ] || npx tsx offline/cli.ts build --corpus "$SRC" --model "$MODEL" --out "$(out "$D")" --force > "tmp/build-$D-split.log" 2>&1
done

if $WORKER; then
  for D in $SETS; do npx tsx offline/cli.ts publish "$(out "$D")" --tenant eval --index "$D" --to local > /dev/null; done
  KEY=$(npx tsx offline/cli.ts keys create --tenant eval --roles search --name hybrid-four --json --to local | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))')
  npx wrangler dev --port "$PORT" --ip 127.0.0.1 > tmp/wrangler-hybrid-four.log 2>&1 &
  WPID=$!
  trap 'kill $WPID 2>/dev/null || true' EXIT
  for _ in $(seq 60); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 1; done
fi

for D in $SETS; do
  if $WORKER; then
    SOURCE=(--endpoint "http://127.0.0.1:$PORT/v1/tenants/eval/indexes/$D" --concurrency 2)
  else
    SOURCE=(--index "$(out "$D")")
  fi
  ev() { I3_API_KEY=${KEY:-} npm run -s eval -- --data "$DATA/$D" "${SOURCE[@]}" --k 100 "$@" 2>&1 | grep -E "^$D " || true; }
  echo "$D lexical:         $(ev --mode lexical)"
  echo "$D dense:           $(ev --mode dense)"
  echo "$D hybrid default:  $(ev --mode hybrid)"
  echo "$D hybrid rrf:      $(ev --mode hybrid --fusion rrf)"
  echo "$D hybrid minmax $REF_WEIGHT: $(ev --mode hybrid --fusion "weighted:$REF_WEIGHT:minmax")"
done
