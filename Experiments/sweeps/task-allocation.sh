#!/usr/bin/env bash
# The two-stage task-allocation policy: GRPO and the paper's soft actor-critic on
# almighty, rbf, rbf-100 and electric-2023, 5 seeds each (docs/task-allocation.md).
#
#   bash Experiments/sweeps/task-allocation.sh [--jobs N] [--out DIR] [--seeds "0 1 2 3 4"]
#        [--bin DIR] [--set KEY=VALUE]... [--only "ta-rbf-grpo ..."]
#
# At most N runs at once, each streaming its progress lines with its name (also kept in
# DIR/logs/). Re-running skips finished runs and resumes unfinished ones. Ends with the
# summary (one table per metric, a row per experiment, mean ± std over seeds; GRPO and SAC
# runs apart) and plots of the episode return and the greedy evaluation return.
set -euo pipefail
cd "$(dirname "$0")/../.."
. Experiments/sweeps/runs.sh

out=Checkpoints/sweeps/task-allocation
seeds="0 1 2 3 4"
only="ta-almighty-grpo ta-almighty-sac ta-rbf-grpo ta-rbf-grpo-knapsack-hicra ta-rbf-100-grpo ta-electric-grpo ta-rbf-sac ta-electric-sac"
while [ $# -gt 0 ]; do
  common_option "$@"
  if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
  case "$1" in
    --only) only="$2"; shift 2 ;;
    *) echo "usage: $0 $common_usage [--only \"NAME ...\"]" >&2; exit 2 ;;
  esac
done
build_tools

status=0
for name in $only; do
  for seed in $seeds; do
    wait_for_slot
    run_member "$name" "$seed" --config "Experiments/$name.json" &
  done
done
wait_all

# The runs of this sweep's experiments side by side (links), for the summary and plots.
rm -rf "$out/selected"
mkdir -p "$out/plots" "$out/selected"
for name in $only; do
  for run in "$out/${name}__"*; do
    [ -d "$run" ] && ln -sfn "$(cd "$run" && pwd)" "$out/selected/$(basename "$run")"
  done
done
echo
"$bin/allot" summarize "$out/selected" || status=1
for name in $only; do
  ls -d "$out/${name}__"* >/dev/null 2>&1 || continue
  mkdir -p "$out/by-experiment/$name"
  for run in "$out/${name}__"*; do
    ln -sfn "$(cd "$run" && pwd)" "$out/by-experiment/$name/$(basename "$run")"
  done
  for metric in episode/return eval/return; do
    "$bin/allot" plot "$out/by-experiment/$name" --metric "$metric" \
      -o "$out/plots/$name-$(echo "$metric" | tr '/' '-').svg" || status=1
  done
done
exit $status
