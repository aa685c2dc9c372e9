# Shared by the sweep scripts (source it; it expects $out and $bin to be set).

# steps_of CONFIG: the run.steps an experiment file sets.
steps_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run']['steps'])" "$1"; }

# run_member NAME SEED STEPS TRAIN_ARGS...: train, resume or skip the run NAME, seed SEED, in
# $out: skipped when its step-STEPS checkpoint exists, resumed from its newest checkpoint,
# otherwise started afresh as `train --output $out --set run.seed=SEED TRAIN_ARGS...`.
run_member() {
  local name="$1" seed="$2" steps="$3"
  shift 3
  local final existing
  final=$(printf 'ckpt_%08d.h5' "$steps")
  existing=$(ls -d "$out/${name}__seed${seed}__"* 2>/dev/null | tail -n 1 || true)
  local cmd
  if [ -n "$existing" ] && [ -f "$existing/$final" ]; then
    echo "skip (finished): $existing"
    return 0
  elif [ -n "$existing" ] && ls "$existing"/ckpt_*.h5 >/dev/null 2>&1; then
    cmd=("$bin/train" --quiet --resume "$existing")
  else
    [ -n "$existing" ] && rm -rf "$existing"   # started but never checkpointed: start over
    cmd=("$bin/train" --quiet --output "$out" --set "run.seed=$seed" "$@")
  fi
  echo "+ ${cmd[*]}"
  "${cmd[@]}" > "$out/.${name}__seed${seed}.log" 2>&1 || {
    echo "run $name seed $seed failed; see $out/.${name}__seed${seed}.log" >&2
    return 1
  }
}
