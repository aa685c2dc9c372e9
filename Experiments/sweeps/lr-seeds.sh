#!/usr/bin/env bash
# Learning rate × seed sweep of the spirals classifier (Experiments/spirals.json).
#
#   bash Experiments/sweeps/lr-seeds.sh [--jobs N] [--out DIR]
#
# Runs every (learning rate, seed) pair, at most N at once (default 1), into one sweep
# folder (default Checkpoints/sweeps/lr-seeds), printing each command before it runs.
# Re-running the script skips finished runs and resumes unfinished ones, so a sweep can
# be interrupted at any time. It ends with the summary table (mean ± std over seeds per
# learning rate, best marked) and a plot of eval/accuracy for every run.
set -euo pipefail
cd "$(dirname "$0")/../.."

jobs=1
out=Checkpoints/sweeps/lr-seeds
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--jobs N] [--out DIR]" >&2; exit 2 ;;
  esac
done

learning_rates=(0.001 0.003 0.01 0.03)
seeds=(0 1 2)
steps=1500

swift build -c release --product train --product allot >/dev/null
bin=$(swift build -c release --show-bin-path)
mkdir -p "$out"

. Experiments/sweeps/runs.sh

# run_one LR SEED: the spirals classifier at learning rate LR.
run_one() {
  run_member "lr$1" "$2" "$steps" --config Experiments/spirals.json --set "run.name=lr$1" \
    --set "run.steps=$steps" --set "optimizer.learningRate=$1"
}

status=0
for lr in "${learning_rates[@]}"; do
  for seed in "${seeds[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || status=1; done
    run_one "$lr" "$seed" &
  done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done

echo
"$bin/allot" summarize "$out" --metric eval/accuracy
"$bin/allot" plot "$out" --metric eval/accuracy -o "$out/eval-accuracy.svg"
exit $status
