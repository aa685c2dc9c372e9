#!/usr/bin/env bash
# GRPO vs GRPO + Knapsack-RL vs GRPO + HICRA vs GRPO + Knapsack-RL + HICRA, 3 seeds each,
# all from the same supervised warm start, for one family of experiments:
#   arith        Experiments/arith-grpo-{variant}.json from arith-sft.json (the default)
#   arith-short  Experiments/arith-grpo-short-{variant}.json from arith-sft-short.json
#   countdown    Experiments/countdown-grpo-{variant}.json from countdown-sft.json
# (a family runs the variants it has files for; --variants names others, e.g.
# "uniform dynamic" for Experiments/arith-grpo-short-dynamic.json).
#
#   bash Experiments/sweeps/grpo-variants.sh [--family F] [--variants "V ..."] [--jobs N]
#        [--out DIR] [--seeds "0 1 2"] [--bin DIR] [--set KEY=VALUE]...
#
# The warm start (seed 0) is reused when a finished one exists: in the sweep folder, else
# the newest under Checkpoints/ (where `train --config Experiments/arith-sft.json` puts
# it); otherwise it is trained first into the sweep folder. --set values go to the GRPO
# runs, not to the warm start. At most N runs at once, each streaming its progress lines
# with its name (also kept in DIR/logs/). Re-running skips finished runs and resumes
# unfinished ones. Ends with the summary (a row per variant, mean ± std over seeds), the
# sampled accuracy of every final policy and plots of reward, test pass@1,
# effective-gradient ratio, semantic entropy and budgets.
set -euo pipefail
cd "$(dirname "$0")/../.."
. Experiments/sweeps/runs.sh

family=arith
seeds="0 1 2"
wanted="uniform knapsack hicra knapsack-hicra"
while [ $# -gt 0 ]; do
  common_option "$@"
  if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
  case "$1" in
    --family) family="$2"; shift 2 ;;
    --variants) wanted="$2"; shift 2 ;;
    *) echo "usage: $0 [--family arith|arith-short|countdown] [--variants \"V ...\"] $common_usage" >&2; exit 2 ;;
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
build_tools

# The warm start: a finished one here or under Checkpoints/, else trained here (without the
# sweep's --set values, which are for the GRPO runs).
warm_steps=$(steps_of --config "Experiments/$warm.json")
warm_run=$(finished_run "$out" "$warm" 0 "$warm_steps")
[ -n "$warm_run" ] || warm_run=$(finished_run Checkpoints "$warm" 0 "$warm_steps")
if [ -n "$warm_run" ]; then
  echo "[$warm s0] reusing the finished warm start $warm_run"
else
  grpo_sets=("${sets[@]}")
  sets=()
  run_member "$warm" 0 --config "Experiments/$warm.json"
  sets=("${grpo_sets[@]}")
  warm_run=$(finished_run "$out" "$warm" 0 "$warm_steps")
fi
init="grpo.initFrom=$(cd "$warm_run" && pwd)"   # for new runs; a resume keeps its own

status=0
for seed in $seeds; do
  for v in "${variants[@]}"; do
    wait_for_slot
    run_member "$prefix-$v" "$seed" --config "Experiments/$prefix-$v.json" --set "$init" &
  done
done
wait_all

# The GRPO runs side by side (links), for the summary and the plots.
mkdir -p "$out/plots" "$out/grpo"
for run in "$out/$prefix"-*__*; do ln -sfn "$(cd "$run" && pwd)" "$out/grpo/$(basename "$run")"; done
echo
"$bin/allot" summarize "$out/grpo" || status=1
echo
per_difficulty=()
for d in $difficulties; do per_difficulty+=(--metric "eval/pass1/$d"); done
"$bin/allot" summarize "$out/grpo" "${per_difficulty[@]}" || status=1
# Sampled accuracy of every final policy (greedy pass@1 alone moves little): mean@4 and
# pass@4 at temperature 1 on the evaluation prompts, the warm start first.
echo
echo "## final policies: greedy pass@1, mean@4, pass@4 (allot evaluate --samples 4)"
task=$(ls "Experiments/$prefix"-*.json | head -n 1)   # the GRPO test split for every row
for run in "$warm_run" "$out/grpo"/*; do
  echo "$(basename "$run") $("$bin/allot" evaluate "$run" --task "$task" --samples 4 | grep '^| all')"
done
echo
for metric in reward/mean eval/pass1 grad/effectiveRatio hicra/semanticEntropy budget/max; do
  "$bin/allot" plot "$out/grpo" --metric "$metric" -o "$out/plots/$(echo "$metric" | tr '/' '-').svg" || status=1
done
exit $status
