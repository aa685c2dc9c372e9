#!/usr/bin/env bash
# GRPO vs GRPO + Knapsack-RL vs GRPO + HICRA vs GRPO + Knapsack-RL + HICRA, 3 seeds each,
# all from the same supervised warm start, for one family of experiments:
#   arith        Experiments/arith-grpo-{variant}.json from arith-sft.json (the default)
#   arith-short  Experiments/arith-grpo-short-{variant}.json from arith-sft-short.json
#   countdown    Experiments/countdown-grpo-{variant}.json from countdown-sft.json
# (a family runs the variants it has files for; --variants names others, e.g.
# "uniform dynamic" for Experiments/arith-grpo-short-dynamic.json).
#
#   bash Experiments/sweeps/grpo-variants.sh [--family F] [--variants "V ..."] [--jobs N] [--out DIR] [--seeds "0 1 2"] [--bin DIR]
#
# The warm start is trained first into the sweep folder unless a finished one is there.
# Each command is printed before it runs; at most N runs at once. Re-running skips
# finished runs and resumes unfinished ones. Ends with a summary table per variant and
# plots of reward, test pass@1, effective-gradient ratio and semantic entropy.
set -euo pipefail
cd "$(dirname "$0")/../.."

jobs=1
family=arith
out=""
seeds="0 1 2"
bin=""
wanted="uniform knapsack hicra knapsack-hicra"
while [ $# -gt 0 ]; do
  case "$1" in
    --family) family="$2"; shift 2 ;;
    --variants) wanted="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;   # prebuilt train and allot (default: build them here)
    *) echo "usage: $0 [--family arith|arith-short|countdown] [--variants \"V ...\"] [--jobs N] [--out DIR] [--seeds \"0 1 2\"] [--bin DIR]" >&2; exit 2 ;;
  esac
done
case "$family" in
  arith) warm=arith-sft; prefix=arith-grpo; difficulties="digits4 digits5" ;;
  arith-short) warm=arith-sft-short; prefix=arith-grpo-short; difficulties="digits3 digits4" ;;
  countdown) warm=countdown-sft; prefix=countdown-grpo; difficulties="numbers3 numbers4 numbers5" ;;
  *) echo "unknown family '$family' (arith, arith-short or countdown)" >&2; exit 2 ;;
esac
[ -n "$out" ] || out=Checkpoints/sweeps/$prefix-variants
variants=()
for v in $wanted; do
  [ -f "Experiments/$prefix-$v.json" ] && variants+=("$v")
done

if [ -z "$bin" ]; then
  swift build -c release --product train --product allot >/dev/null
  bin=$(swift build -c release --show-bin-path)
fi
mkdir -p "$out"

. Experiments/sweeps/runs.sh

# run_config CONFIG NAME SEED: one run of an experiment file.
run_config() { run_member "$2" "$3" "$(steps_of "$1")" --config "$1"; }

run_config "Experiments/$warm.json" "$warm" 0

status=0
for seed in $seeds; do
  for v in "${variants[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || status=1; done
    run_config "Experiments/$prefix-$v.json" "$prefix-$v" "$seed" &
  done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done

# The GRPO runs side by side (links), for the summary and the plots.
mkdir -p "$out/plots" "$out/grpo"
for run in "$out/$prefix"-*__*; do ln -sfn "$(cd "$run" && pwd)" "$out/grpo/$(basename "$run")"; done
echo
for metric in eval/pass1 $(for d in $difficulties; do echo "eval/pass1/$d"; done); do
  echo "## $metric at the end (mean ± std over seeds)"
  "$bin/allot" summarize "$out/grpo" --metric "$metric" || true
  echo
done
for metric in grad/effectiveRatio reward/mean budget/max hicra/semanticEntropy hicra/planningRatio completion/meanLength; do
  echo "## $metric, mean over training (mean ± std over seeds)"
  "$bin/allot" summarize "$out/grpo" --metric "$metric" --aggregate mean || true
  echo
done
# Sampled accuracy of every final policy (greedy pass@1 alone moves little): mean@4 and
# pass@4 at temperature 1 on the evaluation prompts, the warm start first.
echo "## final policies: greedy pass@1, mean@4, pass@4 (allot evaluate --samples 4)"
task=$(ls "Experiments/$prefix"-*.json | head -n 1)   # the GRPO test split for every row
for run in "$out/$warm"__* "$out/grpo"/*; do
  echo "$(basename "$run") $("$bin/allot" evaluate "$run" --task "$task" --samples 4 | grep '^| all')"
done
echo
for metric in reward/mean eval/pass1 grad/effectiveRatio hicra/semanticEntropy budget/max; do
  "$bin/allot" plot "$out/grpo" --metric "$metric" -o "$out/plots/$(echo "$metric" | tr '/' '-').svg" || true
done
exit $status
