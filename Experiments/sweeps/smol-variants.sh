#!/usr/bin/env bash
# Issue #18's four variants on SmolLM2-135M-Instruct: GRPO, + Knapsack-RL, + HICRA (the
# model's own mined grams, Experiments/smol-arith-grams.txt), + both, on
# Experiments/smol-grpo-add-pool.json (64 training problems, each drawn 2-3 times, so
# Knapsack-RL has earlier visits to allocate from), 2 seeds each.
#
#   bash Experiments/sweeps/smol-variants.sh [--jobs N] [--out DIR] [--seeds "0 1"] [--bin DIR]
#        [--set KEY=VALUE]...
#
# Needs the model file (bash .ci/setup fetches it) and about 26 GB of disk: each run keeps
# its two newest checkpoints of 1.6 GB (weights and AdamW moments; a run stopped by a full
# disk says so, keeps its last checkpoint and resumes when the sweep is run again). Each
# run is 20-40 minutes on one core;
# at most N at once (each prints its progress lines with its name; logs in DIR/logs/).
# Re-running skips finished runs and resumes unfinished ones. Ends with the summary (a row
# per variant, mean ± std over seeds), per difficulty, HICRA's metrics and plots.
set -euo pipefail
cd "$(dirname "$0")/../.."
. Experiments/sweeps/runs.sh

seeds="0 1"
while [ $# -gt 0 ]; do
  common_option "$@"
  if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
  echo "usage: $0 $common_usage" >&2; exit 2
done
[ -n "$out" ] || out=Checkpoints/sweeps/smol-grpo-add-pool
build_tools

config=Experiments/smol-grpo-add-pool.json
hicra=(--set hicra.enabled=true --set hicra.phrasesFile=Experiments/smol-arith-grams.txt)
status=0
for seed in $seeds; do
  for v in uniform knapsack hicra knapsack-hicra; do
    case "$v" in
      uniform) extra=() ;;
      knapsack) extra=(--set knapsack.enabled=true) ;;
      hicra) extra=("${hicra[@]}") ;;
      knapsack-hicra) extra=(--set knapsack.enabled=true "${hicra[@]}") ;;
    esac
    wait_for_slot
    run_member "smol-pool-$v" "$seed" --config "$config" --set "run.name=smol-pool-$v" "${extra[@]}" &
  done
done
wait_all

echo
"$bin/allot" summarize "$out" || status=1
echo
"$bin/allot" summarize "$out" --metric eval/pass1/a1b2 --metric eval/pass1/a2b2 || status=1
for metric in hicra/planningRatio hicra/semanticEntropy grad/effectiveRatio budget/max perf/sampleSeconds perf/trainSeconds; do
  echo
  echo "## $metric, mean over training (mean ± std over seeds)"
  "$bin/allot" summarize "$out" --metric "$metric" --aggregate mean || true
done
mkdir -p "$out/plots"
for metric in reward/mean eval/pass1 grad/effectiveRatio hicra/semanticEntropy; do
  "$bin/allot" plot "$out" --metric "$metric" -o "$out/plots/$(echo "$metric" | tr '/' '-').svg" || status=1
done
exit $status
