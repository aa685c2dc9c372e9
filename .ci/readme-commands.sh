#!/usr/bin/env bash
# Runs every command in README.md's ```sh blocks, in a short mode, so that none of them
# silently stops working:
#
#   bash .ci/readme-commands.sh [--bin DIR]
#
# The commands run as written from a scratch folder that looks like the repository
# (Experiments/ and .models/ linked in, runs written to its own Checkpoints/), with these
# changes only: `swift run -c release X` runs the built X (no rebuild); `train` trains 2
# steps with small evaluations (`--set run.steps=2 …`), a resume 2 steps more; `allot
# evaluate` evaluates 4 prompts; a sweep runs one experiment of one seed; a run directory
# written as `Checkpoints/<name>__seed0__…` is that run's newest in the scratch folder.
# `… && swift test` (the test suite) is left to .ci/run. Prints each command, stops at the
# first that fails. 2.5–4 minutes after the build (2026-12-01, a busy 2-core machine; the
# SmolLM2 GRPO steps take up to 95 s of it). .ci/run runs it after the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--bin DIR]" >&2; exit 2 ;;
  esac
done
bash .ci/setup
if [ -z "$bin" ]; then
  echo "building (release)…"
  swift build -c release
  bin=$repo/.build/release
fi
bin=$(cd "$bin" && pwd)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/allot-readme.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
ln -s "$repo/Experiments" "$scratch/Experiments"
[ -d "$repo/.models" ] && ln -s "$repo/.models" "$scratch/.models"
cd "$scratch"

short_train=(--quiet --set run.steps=2 --set checkpoint.every=0 --set evaluation.prompts=2
  --set evaluation.maxNewTokens=16 --set grpo.promptsPerStep=2 --set grpo.maxCompletionLength=16)
resumed_steps=2

# The README's commands, one per line: continuations joined, comments dropped.
commands=$(awk '/^```sh/ { on = 1; next } /^```/ { on = 0 } on' "$repo/README.md" \
  | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | sed -e 's/[[:space:]]#.*$//' -e 's/[[:space:]]*$//' \
  | grep -v '^$')

count=0
while IFS= read -r command; do
  # Set up once, above; then the shell's own splitting, quotes as the README means them.
  eval "words=(${command#bash .ci/setup && })"
  if [ "${words[*]:0:2}" = "swift test" ]; then
    echo "= $command   (the test suite: .ci/run runs it)"
    continue
  fi
  run=()
  if [ "${words[*]:0:3}" = "swift run -c" ] && [ "${words[3]}" = release ]; then
    run=("$bin/${words[4]}")
    rest=("${words[@]:5}")
  elif [ "${words[0]}" = bash ] && [[ "${words[1]}" == Experiments/sweeps/* ]]; then
    run=(bash "${words[1]}")
    rest=("${words[@]:2}" --bin "$bin" --seeds 0 --only ta-almighty-grpo)
  else
    echo "$0: README command with no short form here: $command" >&2
    exit 1
  fi
  for i in "${!rest[@]}"; do
    if [[ "${rest[$i]}" =~ ^Checkpoints/([A-Za-z0-9._-]+)__seed0__ ]]; then
      found=$(ls -d "Checkpoints/${BASH_REMATCH[1]}__seed0__"* 2>/dev/null | tail -n 1 || true)
      [ -n "$found" ] || { echo "$0: no run ${BASH_REMATCH[1]} for: $command" >&2; exit 1; }
      rest[$i]=$found
    fi
  done
  case "${run[0]##*/} ${rest[0]:-}" in
    "train --resume")
      resumed_steps=$((resumed_steps + 2))
      rest+=(--quiet --set "run.steps=$resumed_steps") ;;
    "train --print-config") ;;
    train\ *) rest+=("${short_train[@]}") ;;
    "allot evaluate") rest+=(--prompts 4) ;;
  esac
  echo "+ $command"
  started=$SECONDS
  "${run[@]}" "${rest[@]}" < /dev/null > output.txt 2>&1 || {
    cat output.txt
    echo "$0: failed: $command" >&2
    exit 1
  }
  tail -n 3 output.txt | sed 's/^/    /'
  echo "    ($((SECONDS - started)) s)"
  count=$((count + 1))
done <<< "$commands"
echo "all $count README commands ran"
