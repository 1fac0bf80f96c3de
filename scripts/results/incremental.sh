#!/usr/bin/env bash
# Incremental updates on SciFact with the shipped model (docs/RESULTS.md, "Incremental updates"): a base built from 90% of
# the corpus (every 10th document left out), then
#   add:     an update that adds the 10% left out (the same documents as the full build; BM25 exact);
#   replace: an update of that version that upserts 10% of the base's documents unchanged (so 10% of the base is
#            tombstoned and counted in the BM25 statistics until compaction: the stated tolerance);
#   compact: i3 compact of the replace version;
# each evaluated (lexical, dense, hybrid at the index defaults) against the full build of the same corpus.
# Usage: I3_DATA=<BEIR data dir> bash scripts/results/incremental.sh   (builds go to build/incr-*, kept)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${I3_DATA:?set I3_DATA to the folder of the BEIR corpora}
MODEL=${MODEL:-models/$(node -p 'require("./models/default.json").model')}
FULL=${FULL:-build/scifact-$(basename "$MODEL")-split}
mkdir -p tmp/incr
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
fs.writeFileSync("tmp/incr/base.jsonl", lines.filter((_, i) => i % 10 !== 9).join("\n") + "\n");
fs.writeFileSync("tmp/incr/add.jsonl", lines.filter((_, i) => i % 10 === 9).join("\n") + "\n");
fs.writeFileSync("tmp/incr/replace.jsonl", lines.filter((_, i) => i % 10 === 4).join("\n") + "\n");
' "$DATA/scifact/corpus.jsonl"
t() { local s=$SECONDS; "$@"; echo "  ($((SECONDS - s)) s)"; }
[ -f "$FULL/manifest.json" ] || t npx tsx offline/cli.ts build --corpus "$DATA/scifact" --model "$MODEL" --out "$FULL" --force > tmp/incr/full.log 2>&1
echo "base build:"; [ -f build/incr-base/manifest.json ] || t npx tsx offline/cli.ts build --corpus tmp/incr/base.jsonl --model "$MODEL" --out build/incr-base --force 2>&1 | tail -1
echo "add update:"; t npx tsx offline/cli.ts build --base build/incr-base --upsert tmp/incr/add.jsonl --model "$MODEL" --out build/incr-add --force 2>&1 | tail -1
echo "replace update:"; t npx tsx offline/cli.ts build --base build/incr-add --upsert tmp/incr/replace.jsonl --model "$MODEL" --out build/incr-replace --force 2>&1 | tail -1
echo "compact:"; t npx tsx offline/cli.ts compact --base build/incr-replace --model "$MODEL" --out build/incr-compact --force 2>&1 | tail -1
for B in "$FULL" build/incr-base build/incr-add build/incr-replace build/incr-compact; do
  for M in lexical dense hybrid; do
    echo "$B $M $(npm run -s eval -- --data "$DATA/scifact" --index "$B" --k 100 --mode "$M" 2>&1 | grep -E '^scifact ' || true)"
  done
done
