#!/usr/bin/env bash
# Learning rate × seed sweep of the classifier quickstart.
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

run_one() {
  local lr="$1" seed="$2"
  local name="lr${lr}"
  local final
  final=$(printf 'ckpt_%08d.h5' "$steps")
  local existing
  existing=$(ls -d "$out/${name}__seed${seed}__"* 2>/dev/null | tail -n 1 || true)
  local cmd
  if [ -n "$existing" ] && [ -f "$existing/$final" ]; then
    echo "skip (finished): $existing"
    return 0
  elif [ -n "$existing" ] && ls "$existing"/ckpt_*.h5 >/dev/null 2>&1; then
    cmd=("$bin/train" --quiet --resume "$existing")
  else
    [ -n "$existing" ] && rm -rf "$existing"   # started but never checkpointed: start over
    cmd=("$bin/train" --quiet --output "$out" --set "run.name=$name" --set "run.seed=$seed"
      --set "run.steps=$steps" --set "optimizer.learningRate=$lr")
  fi
  echo "+ ${cmd[*]}"
  "${cmd[@]}" > "$out/.${name}__seed${seed}.log" 2>&1 || {
    echo "run lr=$lr seed=$seed failed; see $out/.${name}__seed${seed}.log" >&2
    return 1
  }
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
