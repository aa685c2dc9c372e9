#!/usr/bin/env bash
# The supervised warm starts of docs/sequence-policy.md over seeds: each config in
# --configs (default "arith-sft countdown-sft") trained with every seed, then every final
# checkpoint evaluated on its test split (`allot evaluate RUN --samples 4`: greedy pass@1,
# mean@4 and pass@4 at T = 1) and the table printed per difficulty as mean ± std over seeds.
#
#   bash Experiments/sweeps/warm-starts.sh [--configs "arith-sft ..."] [--jobs N] [--out DIR]
#        [--seeds "0 1 2"] [--bin DIR] [--set KEY=VALUE]...
#
# arith-sft takes about 25 minutes a seed on one core, countdown-sft about 30. Re-running
# skips finished runs and resumes unfinished ones; evaluations are kept in DIR/evaluations/.
set -euo pipefail
cd "$(dirname "$0")/../.."
. Experiments/sweeps/runs.sh

seeds="0 1 2"
configs="arith-sft countdown-sft"
while [ $# -gt 0 ]; do
  common_option "$@"
  if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
  case "$1" in
    --configs) configs="$2"; shift 2 ;;
    *) echo "usage: $0 [--configs \"arith-sft ...\"] $common_usage" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out=Checkpoints/sweeps/warm-starts
build_tools

status=0
for config in $configs; do
  for seed in $seeds; do
    wait_for_slot
    run_member "$config" "$seed" --config "Experiments/$config.json" &
  done
done
wait_all

mkdir -p "$out/evaluations"
for config in $configs; do
  steps=$(steps_of --config "Experiments/$config.json")
  for seed in $seeds; do
    run=$(finished_run "$out" "$config" "$seed" "$steps")
    [ -n "$run" ] || { echo "[$config s$seed] not finished" >&2; status=1; continue; }
    table="$out/evaluations/${config}__seed$seed.md"
    if [ ! -s "$table" ]; then
      echo "[$config s$seed] allot evaluate $run --samples 4"
      "$bin/allot" evaluate "$run" --samples 4 > "$table.partial" && mv "$table.partial" "$table"
    fi
  done
  echo
  echo "## $config: test split, mean ± std over seeds $seeds"
  python3 - "$out/evaluations" "$config" $seeds <<'PY'
import statistics, sys
folder, config, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = {}   # difficulty -> (prompts, [[pass1, mean@4, pass@4] per seed])
header = None
for seed in seeds:
    for line in open(f"{folder}/{config}__seed{seed}.md"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or set(cells[1]) <= set("-: "):
            continue
        if cells[1] == "prompts":
            header = cells
            continue
        prompts, values = cells[1], [float(c) for c in cells[2:5]]
        rows.setdefault(cells[0], (prompts, []))[1].append(values)
def cell(values):
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"
print("| " + " | ".join(header[:5]) + " |")
print("| --- | ---: | ---: | ---: | ---: |")
for difficulty, (prompts, per_seed) in rows.items():
    columns = list(zip(*per_seed))
    print(f"| {difficulty} | {prompts} | " + " | ".join(cell(list(c)) for c in columns) + " |")
print("per seed, pass@1 (all): " + ", ".join(f"{v[0]:.3f}" for v in rows.get("all", ("", []))[1]))
PY
done
exit $status
