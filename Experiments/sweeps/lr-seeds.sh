#!/usr/bin/env bash
# Learning rate × seed sweep of the spirals classifier (Experiments/spirals.json).
#
#   bash Experiments/sweeps/lr-seeds.sh [--jobs N] [--out DIR] [--seeds "0 1 2"] [--bin DIR] [--set KEY=VALUE]...
#
# Runs every (learning rate, seed) pair, at most N at once (default 1), into one sweep
# folder (default Checkpoints/sweeps/lr-seeds), streaming each run's progress lines with its
# name (also kept in DIR/logs/). Re-running the script skips finished runs and resumes
# unfinished ones, so a sweep can be interrupted at any time. It ends with the summary
# (mean ± std over seeds per learning rate, best marked) and a plot of eval/accuracy.
set -euo pipefail
cd "$(dirname "$0")/../.."
. Experiments/sweeps/runs.sh

out=Checkpoints/sweeps/lr-seeds
seeds="0 1 2"
while [ $# -gt 0 ]; do
  common_option "$@"
  [ "$shifted" -gt 0 ] || { echo "usage: $0 $common_usage" >&2; exit 2; }
  shift "$shifted"
done

learning_rates=(0.001 0.003 0.01 0.03)
steps=1500
build_tools

status=0
for lr in "${learning_rates[@]}"; do
  for seed in $seeds; do
    wait_for_slot
    run_member "lr$lr" "$seed" --config Experiments/spirals.json --set "run.name=lr$lr" \
      --set "run.steps=$steps" --set "optimizer.learningRate=$lr" &
  done
done
wait_all

echo
"$bin/allot" summarize "$out"
"$bin/allot" plot "$out" --metric eval/accuracy -o "$out/eval-accuracy.svg"
exit $status
