#!/usr/bin/env bash
# A longer kill and fuzz campaign than the test suite's (issue #21): SIGKILLs the real
# `train` at random moments over a classifier, a task-allocation GRPO and a SAC run and
# checks bit-identical final checkpoints and metrics.jsonl after resuming; fuzzes the
# config loader with --set values and files. Prints the figures docs/reliability.md quotes.
#
#   bash Experiments/fault-campaign.sh [--kills 8] [--rounds 3] [--seed 2121] [--fuzz 3000]
set -euo pipefail
kills=8 rounds=3 seed=2121 fuzz=3000
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --fuzz) fuzz=$2; shift 2 ;;
    *) echo "fault-campaign.sh: unknown option $1 (use --kills, --rounds, --seed, --fuzz)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
log=$(mktemp)
status=0
ALLOT_FAULT_KILLS=$kills ALLOT_FAULT_ROUNDS=$rounds ALLOT_FAULT_SEED=$seed ALLOT_FUZZ_CASES=$fuzz \
  timeout 3600 swift test --filter "killedRunsResume|fuzzedOverrides" >"$log" 2>&1 || status=$?
grep -E "fault figures|fuzz figures" "$log" || true
failures=$(grep -c "✘" "$log" || true)
crashes=$(grep -cE "signal|Fatal error|crashed" "$log" || true)
echo "failed expectations: $failures; crash lines: $crashes; exit status: $status (124: hung past 1 h)"
[ "$status" -eq 0 ] || { grep "✘" "$log" | head -20; exit 1; }
