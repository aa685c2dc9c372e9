#!/usr/bin/env bash
# Steps per second of `train` at K = 1 and K = 2 ranks (same config, distributed.shards=2,
# so both runs compute the same bits), for the GRPO step on the character-level
# transformer and for the SFT step, with the time split the metrics record. Runs
# alternate K = 1 and K = 2 ("rounds" times) so that load from other users hits both.
# With SMOL_STEPS=N also the GRPO step on SmolLM2-135M-Instruct (Experiments/smol-grpo-add.json,
# N steps, every rollout scored; the GGUF .ci/setup fetches; two ranks hold 3.7 GB each).
# TRAIN=PATH measures that train executable (another build, to compare) instead of building.
# Usage: [SMOL_STEPS=4] [TRAIN=PATH] bash Benchmarks/mpi-scaling.sh [rounds]   (from the repository root)
set -euo pipefail
rounds="${1:-2}"
if [ -n "${TRAIN:-}" ]; then
  train="$TRAIN"
else
  swift build -c release --product train >/dev/null 2>&1
  train="$PWD/.build/release/train"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT   # each SmolLM2 run leaves a 1.6 GB final checkpoint
export OMPI_MCA_btl_vader_single_copy_mechanism=none
grpo=(--quiet --set logging.evalAtStart=false --set kind=grpo --set run.steps=8 --set task.trainSize=256 --set grpo.promptsPerStep=16
  --set grpo.groupSize=8 --set grpo.maxCompletionLength=64 --set evaluation.prompts=1
  --set evaluation.maxNewTokens=1 --set logging.every=1 --set logging.evalEvery=0
  --set checkpoint.every=0 --set distributed.shards=2)
sft=(--quiet --set logging.evalAtStart=false --set kind=sft --set run.steps=12 --set sft.batchSize=32 --set evaluation.prompts=1
  --set evaluation.maxNewTokens=1 --set logging.every=1 --set logging.evalEvery=0
  --set checkpoint.every=0 --set distributed.shards=2)
smol=(--quiet --config Experiments/smol-grpo-add.json --set logging.evalAtStart=false
  --set run.steps="${SMOL_STEPS:-0}" --set grpo.skipZeroAdvantage=false --set logging.every=1
  --set logging.evalEvery=0 --set checkpoint.every=0 --set distributed.shards=2)
kinds="grpo sft"
[ "${SMOL_STEPS:-0}" -gt 0 ] && kinds="grpo sft smol"
for round in $(seq "$rounds"); do
  for k in 1 2; do
    if [ "${SMOL_STEPS:-0}" -gt 0 ]; then
      mpirun --allow-run-as-root --oversubscribe -np "$k" "$train" "${smol[@]}" \
        --output "$out/smol-np$k-r$round" >/dev/null
    fi
    mpirun --allow-run-as-root --oversubscribe -np "$k" "$train" "${grpo[@]}" \
      --output "$out/grpo-np$k-r$round" >/dev/null
    mpirun --allow-run-as-root --oversubscribe -np "$k" "$train" "${sft[@]}" \
      --output "$out/sft-np$k-r$round" >/dev/null
  done
done
python3 - "$out" $kinds <<'PY'
import glob, json, statistics, sys
root = sys.argv[1]
def lines(pattern):
    rows = []
    for f in sorted(glob.glob(f"{root}/{pattern}/*/metrics.jsonl")):
        rows += [json.loads(l) for l in open(f)][1:]  # the first step warms up
    return rows
keys = ["perf/stepSeconds", "perf/sampleSeconds", "perf/trainSeconds", "perf/commSeconds",
        "perf/idleSeconds", "perf/commBytes", "perf/cpuSeconds", "perf/commCPUSeconds"]
for kind in sys.argv[2:]:
    rate, best, compute, alone = {}, {}, {}, {}
    for k in [1, 2]:
        rows = lines(f"{kind}-np{k}-r*")
        m = {key: statistics.mean(r.get(key, 0) for r in rows) for key in keys}
        rate[k] = 1 / m["perf/stepSeconds"]
        best[k] = 1 / min(r["perf/stepSeconds"] for r in rows)
        split = "  ".join(f"{key[5:]} {m[key]:.3f}" for key in keys[1:5])
        print(f"{kind} K={k}: {rate[k]:.3f} steps/s (mean step), {best[k]:.3f} (fastest step) "
              f"over {len(rows)} steps; per step: {split} s; "
              f"{m['perf/commBytes'] / 1e6:.2f} MB communicated")
        # Rank 0's compute (CPU time outside collectives) plus its wall time in them: the step
        # time the ranks would take with a core each and nothing else running.
        compute[k] = m["perf/cpuSeconds"] - m["perf/commCPUSeconds"]
        alone[k] = compute[k] + m["perf/commSeconds"] + m["perf/idleSeconds"] * (
            compute[k] / max(m["perf/stepSeconds"] - m["perf/commSeconds"] - m["perf/idleSeconds"], 1e-9))
        print(f"   compute {compute[k]:.3f} s CPU per step; comm {m['perf/commSeconds']:.3f} s, "
              f"idle {m['perf/idleSeconds']:.3f} s wall; estimated alone {alone[k]:.3f} s per step")
    print(f"{kind}: K=2 / K=1 = {rate[2] / rate[1]:.2f}x (mean), {best[2] / best[1]:.2f}x (fastest), "
          f"{alone[1] / alone[2]:.2f}x (CPU-time estimate, a core per rank)")
PY
