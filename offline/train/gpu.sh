#!/usr/bin/env bash
# The GPU recipe in one command (docs/TRAINING.md, "GPU recipe"): the whole passage backbone fine-tunes
# (train_passage=all), which the 2-core CPU recipe cannot afford.
#
#   1. hard negatives for the SciFact train queries (BM25 + zero-shot USE-lite)          offline.train.mine
#   2. zero-shot USE-lite on the four test sets (the row to beat)                        offline.train.evaluate
#   3. 3 seeds x {dual encoder, I^3, I^3 without the reconstruction loss}, concurrently   offline.train.train
#   4. the shipped candidate: the I^3 seed with the best dev nDCG@10 (dev only, never test) -> runs/ship.txt
#   5. every run on the four test sets (best-dev checkpoints; dev = SciFact TRAIN split)
#   6. every run's weight-space ensemble with the model it started from (WiSE-FT, offline/train/wise.py) at
#      WISE_ALPHAS, on the test sets and the SciFact dev split (offline.train.wise); then the table
#
# Usage: offline/train/gpu.sh      env: STEPS (600), SEEDS ("0 1 2"), WISE_ALPHAS ("0.5"), EXTRA (more train.py flags,
#                                  e.g. EXTRA=--n_hard=3: the shipped model's recipe), I3_DATA (the BEIR folders: required),
#                                  USE_LITE_TFJS_DIR;
#                                  DEVICE=cpu EVAL_DATA=cranfield STEPS=1 SEEDS=0 is a (slow) smoke run without a GPU
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
: "${I3_DATA:?set I3_DATA to the folder of the BEIR corpora (I3_DATA/scifact/corpus.jsonl, ...)}"
export I3_DATA
X=-gpu
STEPS=${STEPS:-600}
SEEDS=${SEEDS:-"0 1 2"}
DEVICE=${DEVICE:-cuda}
EVAL_DATA=${EVAL_DATA:-scifact,npl,cranfield,dl19-judged}
WISE_ALPHAS=${WISE_ALPHAS:-0.5}
mkdir -p runs/logs

[ "$DEVICE" != cuda ] || python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print(torch.cuda.get_device_name(0))"
# Mining reads the product's BM25 run (made with Node before the GPU run; carry runs/mine): offline.train.mine says how.
[ -f runs/mine/scifact-train.json ] || python3 -m offline.train.mine --device "$DEVICE"
python3 -m offline.train.evaluate --zero-shot --device "$DEVICE" --data "$EVAL_DATA"

# Same data, steps and seeds for all three; only the model differs.
COMMON="--device=$DEVICE --threads=1 --train_passage=all --max_steps=$STEPS --warmup_steps=20 --eval_every=50
  --dev_at_start=1 --unlab_corpora=scifact,npl,cranfield,dl19-judged --unlab_batch=32 ${EXTRA:-}"
pids=()
for s in $SEEDS; do
  for run in "dual --model=dual" "i3 --model=i3" "i3-norec --model=i3 --beta0=0.0"; do
    set -- $run
    name=$1; shift
    python3 -m offline.train.train "$@" --seed=$s $COMMON --out_dir=runs/$name$X-s$s > runs/logs/$name$X-s$s.log 2>&1 &
    pids+=($!)
  done
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
tail -n 1 runs/logs/*.log
[ "$fail" = 0 ] || { echo "a training run failed (runs/logs/)"; exit 1; }

# The candidate to ship, chosen on dev (SciFact train split) alone.
python3 - "$X" $SEEDS <<'EOF' | tee runs/ship.txt
import json, sys
x, seeds = sys.argv[1], sys.argv[2:]
dev = {s: json.loads(open(f"runs/i3{x}-s{s}/log.jsonl").readlines()[-1])["best_dev"]["nDCG@10"] for s in seeds}
best = max(seeds, key=lambda s: dev[s])
print(f"runs/i3{x}-s{best}/ckpt.pt", json.dumps(dev))
EOF

ckpts=()
for s in $SEEDS; do for name in dual i3 i3-norec; do ckpts+=(--ckpt "runs/$name$X-s$s/ckpt.pt"); done; done
python3 -m offline.train.evaluate --device "$DEVICE" --data "$EVAL_DATA" "${ckpts[@]}"
alphas=(); for a in $WISE_ALPHAS; do alphas+=(--alpha "$a"); done
pids=()
for s in $SEEDS; do for name in dual i3 i3-norec; do
  python3 -m offline.train.wise --eval --device "$DEVICE" --threads 1 --data "$EVAL_DATA" "${alphas[@]}" \
    --ckpt "runs/$name$X-s$s/ckpt.pt" > runs/logs/$name$X-s$s-wise.log 2>&1 &
  pids+=($!)
done; done
for p in "${pids[@]}"; do wait "$p" || { echo "a WiSE evaluation failed (runs/logs/*-wise.log)"; exit 1; }; done
python3 -m offline.train.evaluate --table $X | tee runs/table$X.md
