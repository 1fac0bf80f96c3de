#!/usr/bin/env bash
# The same cells as hybrid-four.sh, through the running worker: publishes build/<set>-<model>-split to the local R2 as
# tenant "eval", index <set>, starts `wrangler dev` on PORT (default 8787), and evaluates each mode from a client.
# Usage: [MODEL=models/<name>] bash scripts/results/hybrid-four-worker.sh [sets...]   (run hybrid-four.sh first: it makes the builds)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"  # Node 22 (the node@22 dev dependency) for wrangler
DATA=${DATA:-/work/shared/data}
PORT=${PORT:-8787}
REF_WEIGHT=${REF_WEIGHT:-0.35}
MODEL=${MODEL:-models/$(node -p 'require("./models/default.json").model')}
SETS=${*:-scifact npl cranfield dl19-judged}
for D in $SETS; do npx tsx offline/cli.ts publish "build/$D-$(basename "$MODEL")-split" --tenant eval --index "$D" --to local > /dev/null; done
KEY=$(npx tsx offline/cli.ts keys create --tenant eval --roles search --name hybrid-four-worker --json --to local | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))')
npx wrangler dev --port "$PORT" --ip 127.0.0.1 > tmp/wrangler-hybrid-four.log 2>&1 &
WPID=$!
trap 'kill $WPID 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 1; done
for D in $SETS; do
  URL=http://127.0.0.1:$PORT/v1/tenants/eval/indexes/$D
  ev() { I3_API_KEY=$KEY npm run -s eval -- --data "$DATA/$D" --endpoint "$URL" --k 100 --concurrency 2 "$@" 2>&1 | grep -E "^$D " || true; }
  echo "$D lexical:         $(ev --mode lexical)"
  echo "$D dense:           $(ev --mode dense)"
  echo "$D hybrid default:  $(ev --mode hybrid)"
  echo "$D hybrid rrf:      $(ev --mode hybrid --fusion rrf)"
  echo "$D hybrid minmax $REF_WEIGHT: $(ev --mode hybrid --fusion "weighted:$REF_WEIGHT:minmax")"
done
