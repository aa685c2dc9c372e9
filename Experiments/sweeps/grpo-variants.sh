#!/usr/bin/env bash
# GRPO vs GRPO + Knapsack-RL vs GRPO + HICRA vs GRPO + Knapsack-RL + HICRA on arithmetic,
# 3 seeds each, all from the same supervised warm start (Experiments/arith-sft.json).
#
#   bash Experiments/sweeps/grpo-variants.sh [--jobs N] [--out DIR] [--seeds "0 1 2"] [--bin DIR]
#
# The warm start is trained first into the sweep folder unless a finished one is there.
# Each command is printed before it runs; at most N runs at once. Re-running skips
# finished runs and resumes unfinished ones. Ends with a summary table per variant and
# plots of reward, test pass@1, effective-gradient ratio and semantic entropy.
set -euo pipefail
cd "$(dirname "$0")/../.."

jobs=1
out=Checkpoints/sweeps/grpo-variants
seeds="0 1 2"
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;   # prebuilt train and allot (default: build them here)
    *) echo "usage: $0 [--jobs N] [--out DIR] [--seeds \"0 1 2\"]" >&2; exit 2 ;;
  esac
done
variants=(uniform knapsack hicra knapsack-hicra)

if [ -z "$bin" ]; then
  swift build -c release --product train --product allot >/dev/null
  bin=$(swift build -c release --show-bin-path)
fi
mkdir -p "$out"

. Experiments/sweeps/runs.sh

# run_config CONFIG NAME SEED: one run of an experiment file.
run_config() { run_member "$2" "$3" "$(steps_of "$1")" --config "$1"; }

run_config Experiments/arith-sft.json arith-sft 0

status=0
for seed in $seeds; do
  for v in "${variants[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || status=1; done
    run_config "Experiments/arith-grpo-$v.json" "arith-grpo-$v" "$seed" &
  done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done

# The GRPO runs side by side (links), for the summary and the plots.
mkdir -p "$out/plots" "$out/grpo"
for run in "$out"/arith-grpo-*__*; do ln -sfn "$(cd "$run" && pwd)" "$out/grpo/$(basename "$run")"; done
echo
for metric in eval/pass1 eval/pass1/digits4 eval/pass1/digits5; do
  echo "## $metric at the end (mean ± std over seeds)"
  "$bin/allot" summarize "$out/grpo" --metric "$metric" || true
  echo
done
for metric in grad/effectiveRatio reward/mean budget/max hicra/semanticEntropy hicra/planningRatio completion/meanLength; do
  echo "## $metric, mean over training (mean ± std over seeds)"
  "$bin/allot" summarize "$out/grpo" --metric "$metric" --aggregate mean || true
  echo
done
for metric in reward/mean eval/pass1 grad/effectiveRatio hicra/semanticEntropy budget/max; do
  "$bin/allot" plot "$out/grpo" --metric "$metric" -o "$out/plots/$(echo "$metric" | tr '/' '-').svg" || true
done
exit $status
