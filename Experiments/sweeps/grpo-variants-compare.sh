#!/usr/bin/env bash
# Issue #20's comparisons on the arith-short setting (GRPO from the arith-sft-short warm
# start, docs/grpo.md), 3 seeds each:
#   - the Knapsack-RL paper's own optimisation, 8 optimizer steps per batch and dual clip
#     10 (arith-grpo-short-knapsack-paper), against today's default (-knapsack);
#   - dynamic sampling (-dynamic) vs Knapsack-RL (-knapsack) vs both (-knapsack-dynamic),
#     with uniform GRPO (-uniform), at equal rollouts;
#   - the README's GRPO path (-knapsack-hicra), re-measured over the same seeds.
#
#   bash Experiments/sweeps/grpo-variants-compare.sh [--jobs N] [--out DIR] [--seeds "0 1 2"] [--bin DIR]
#        [--set KEY=VALUE]...
#
# Runs grpo-variants.sh (warm start, runs, its summaries and plots) under nice -n 5, then
# prints each run's summaries of the new metrics and its test pass@1 at every evaluation
# beside the rollouts it had sampled by then: dynamic sampling spends more rollouts per
# step, so compare rows of equal rollouts, not equal steps.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=Checkpoints/sweeps/arith-grpo-short-compare
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --jobs | --seeds | --bin | --set) args+=("$1" "$2"); shift 2 ;;
    *) echo "usage: $0 [--jobs N] [--out DIR] [--seeds \"0 1 2\"] [--bin DIR] [--set KEY=VALUE]..." >&2; exit 2 ;;
  esac
done

nice -n 5 bash Experiments/sweeps/grpo-variants.sh --family arith-short --out "$out" \
  --variants "uniform knapsack knapsack-hicra knapsack-paper dynamic knapsack-dynamic" "${args[@]}"

bin=$(swift build -c release --show-bin-path)
for metric in policy/ratioMean policy/clipFracLow dynamicSampling/rolloutsSpent dynamicSampling/draws; do
  echo "## $metric, mean over training (mean ± std over seeds)"
  "$bin/allot" summarize "$out/grpo" --metric "$metric" --aggregate mean || true
  echo
done

echo "## test pass@1 by rollouts sampled (run, step, rollouts, eval/pass1)"
# Rollouts per step: dynamicSampling/rolloutsSpent where logged (those configs log every
# step), else the config's fixed M·N (or knapsack.totalBudget).
python3 - "$out/grpo" <<'PY'
import json, os, sys
folder = sys.argv[1]
for run in sorted(os.listdir(folder)):
    config = json.load(open(os.path.join(folder, run, "config.json")))
    grpo, knapsack = config["grpo"], config.get("knapsack", {})
    fixed = grpo["promptsPerStep"] * grpo["groupSize"]
    if knapsack.get("enabled") and knapsack.get("totalBudget", 0) > 0:
        fixed = knapsack["totalBudget"]
    spent, evals = {}, []
    for line in open(os.path.join(folder, run, "metrics.jsonl")):
        record = json.loads(line)
        if record.get("dynamicSampling/rolloutsSpent") is not None:
            spent[record["step"]] = record["dynamicSampling/rolloutsSpent"]
        if record.get("eval/pass1") is not None:
            evals.append((record["step"], record["eval/pass1"]))
    for step, value in evals:
        rollouts = sum(v for s, v in spent.items() if s <= step) if spent else fixed * step
        print(f"{run} {step} {int(rollouts)} {value:.3f}")
PY
