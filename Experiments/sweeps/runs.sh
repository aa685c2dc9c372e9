# Shared by the sweep scripts: source it first, then set $out and call build_tools.
#
# Every sweep takes --jobs N, --out DIR, --seeds "0 1 2", --bin DIR and --set KEY=VALUE
# (repeatable, passed to every run of the sweep; a sweep with other --set values needs its
# own --out, since runs are found again by name and seed).

jobs=1
out=""
seeds=""
bin=""
sets=()

# common_option ARGS...: takes an option every sweep has; sets `shifted` to the number of
# arguments it used (0 when $1 is not one of them).
common_option() {
  case "$1" in
    --jobs | --out | --seeds | --bin | --set)
      [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; } ;;
    *) shifted=0; return 0 ;;
  esac
  shifted=2
  case "$1" in
    --jobs) jobs="$2" ;;
    --out) out="$2" ;;
    --seeds) seeds="$2" ;;
    --bin) bin="$2" ;;   # prebuilt train and allot (default: build them here, once)
    --set) sets+=(--set "$2") ;;
  esac
}

common_usage="[--jobs N] [--out DIR] [--seeds \"0 1 ...\"] [--bin DIR] [--set KEY=VALUE]..."

# build_tools: builds train and allot once, in release as the README's `swift run -c release`
# does (so a build that command made is reused), with the build's output shown (a first
# release build takes minutes), and points $bin at them. The runs then start the built
# executables, so no run starts a build of its own.
build_tools() {
  if [ -z "$bin" ]; then
    swift build -c release --product train
    swift build -c release --product allot
    bin=$(swift build -c release --show-bin-path)
  fi
  for tool in train allot; do
    [ -x "$bin/$tool" ] || { echo "no $bin/$tool (build it, or give --bin)" >&2; exit 2; }
  done
  mkdir -p "$out/logs"
}

# steps_of TRAIN_ARGS...: the run.steps a run of these arguments trains for (--set included).
steps_of() {
  "$bin/train" --print-config "$@" | python3 -c "import json,sys; print(json.load(sys.stdin)['run']['steps'])"
}

# finished_run DIR NAME SEED STEPS: the newest run directory of NAME, seed SEED, in DIR that
# saved its step-STEPS checkpoint (nothing when there is none).
finished_run() {
  local run
  for run in $(ls -d "$1/${2}__seed${3}__"* 2>/dev/null | sort -r); do
    if [ -f "$run/$(printf 'ckpt_%08d.h5' "$4")" ]; then echo "$run"; return 0; fi
  done
}

# run_member NAME SEED TRAIN_ARGS...: train, resume or skip the run NAME, seed SEED, in $out,
# with the sweep's --set values: skipped when it saved its last checkpoint, resumed from its
# newest checkpoint, otherwise started afresh as `train --output $out --set run.seed=SEED
# TRAIN_ARGS...`. Its output streams here, each line prefixed with [NAME sSEED], and is
# kept in $out/logs/NAME__seedSEED.log.
run_member() {
  local name="$1" seed="$2"
  shift 2
  local tag="$name s$seed" log="$out/logs/${name}__seed${seed}.log"
  local finished existing cmd
  finished=$(finished_run "$out" "$name" "$seed" "$(steps_of "$@" "${sets[@]}")")
  existing=$(ls -d "$out/${name}__seed${seed}__"* 2>/dev/null | tail -n 1 || true)
  if [ -n "$finished" ]; then
    echo "[$tag] skip (finished): $finished"
    return 0
  elif [ -n "$existing" ] && ls "$existing"/ckpt_*.h5 >/dev/null 2>&1; then
    cmd=("$bin/train" --quiet --resume "$existing" "${sets[@]}")
  else
    [ -n "$existing" ] && rm -rf "$existing"   # started but never checkpointed: start over
    cmd=("$bin/train" --quiet --output "$out" --set "run.seed=$seed" "$@" "${sets[@]}")
  fi
  echo "[$tag] + ${cmd[*]}"
  if ! "${cmd[@]}" 2>&1 | tee -a "$log" | sed -u "s/^/[$tag] /"; then
    echo "[$tag] failed; its output is in $log" >&2
    return 1
  fi
}

# wait_for_slot: waits until fewer than $jobs runs are going; sets status=1 if one failed.
wait_for_slot() {
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || status=1; done
}

# wait_all: waits for every run; sets status=1 if one failed.
wait_all() {
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done
}
