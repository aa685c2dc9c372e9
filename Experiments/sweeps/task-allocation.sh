#!/usr/bin/env bash
# The two-stage task-allocation policy: GRPO and the paper's soft actor-critic on
# almighty, rbf, rbf-100 and electric-2023, 5 seeds each (docs/task-allocation.md).
#
#   bash Experiments/sweeps/task-allocation.sh [--jobs N] [--out DIR] [--seeds "0 1 2 3 4"]
#                                              [--bin DIR] [--only "ta-rbf-grpo ..."]
#
# Each command is printed before it runs; at most N runs at once. Re-running skips
# finished runs and resumes unfinished ones. Ends with a summary table per experiment and
# plots of the episode return and the greedy evaluation return.
set -euo pipefail
cd "$(dirname "$0")/../.."

jobs=1
out=Checkpoints/sweeps/task-allocation
seeds="0 1 2 3 4"
bin=""
only="ta-almighty-grpo ta-almighty-sac ta-rbf-grpo ta-rbf-grpo-knapsack-hicra ta-rbf-100-grpo ta-electric-grpo ta-rbf-sac ta-electric-sac"
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;   # prebuilt train and allot (default: build them here)
    --only) only="$2"; shift 2 ;;
    *) echo "usage: $0 [--jobs N] [--out DIR] [--seeds \"0 1 2 3 4\"] [--bin DIR] [--only \"NAME ...\"]" >&2; exit 2 ;;
  esac
done

if [ -z "$bin" ]; then
  swift build -c release --product train --product allot >/dev/null
  bin=$(swift build -c release --show-bin-path)
fi
mkdir -p "$out"

. Experiments/sweeps/runs.sh

# run_config NAME SEED: one run of Experiments/NAME.json.
run_config() {
  local config="Experiments/$1.json"
  run_member "$1" "$2" "$(steps_of "$config")" --config "$config"
}

status=0
for name in $only; do
  for seed in $seeds; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || status=1; done
    run_config "$name" "$seed" &
  done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done

mkdir -p "$out/plots"
for name in $only; do
  ls -d "$out/${name}__"* >/dev/null 2>&1 || continue
  mkdir -p "$out/by-experiment/$name"
  for run in "$out/${name}__"*; do
    ln -sfn "$(cd "$run" && pwd)" "$out/by-experiment/$name/$(basename "$run")"
  done
  echo "## $name (mean ± std over seeds)"
  for metric in eval/return eval/returnSampled eval/pass1 eval/gap; do
    "$bin/allot" summarize "$out/by-experiment/$name" --metric "$metric" || true
  done
  "$bin/allot" summarize "$out/by-experiment/$name" --metric episode/return --aggregate mean || true
  for metric in episode/return eval/return; do
    "$bin/allot" plot "$out/by-experiment/$name" --metric "$metric" \
      -o "$out/plots/$name-$(echo "$metric" | tr '/' '-').svg" || true
  done
  echo
done
exit $status
