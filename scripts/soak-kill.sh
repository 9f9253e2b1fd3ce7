#!/usr/bin/env bash
# kill -9 soak of the checkpoint protocol (src/train/run_dir.h). Trains the MLP with a checkpoint
# every 2 steps, kills the process with SIGKILL at a random moment, resumes, and repeats; when a
# chain of resumed runs reaches the last step it is compared with an uninterrupted run and a new
# chain starts, until KILLS kills have happened.
# After every kill it checks that the newest checkpoint is whole (its safetensors file loads with
# `mixtrain inspect`, its summary names the same step) and never older than the one before (lost).
# At the end of every chain: the final checkpoint must be byte-identical and the metrics (minus
# wall-clock fields and the per-run config lines) line-identical to the uninterrupted run's, with no
# temporaries left.
#
#   scripts/soak-kill.sh [KILLS=50] [STEPS=300]    (MIXTRAIN_BIN: the tool, default build/release)
# Prints one summary line; exits 1 on any lost or torn checkpoint or a mismatch, 77 (skipped) when
# Fashion-MNIST is not installed.
set -euo pipefail
kills=${1:-50}
steps=${2:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MIXTRAIN_BIN:-$root/build/release/bin/mixtrain}
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${FASHION_MNIST_DIR:-}" ]; then
  echo "soak: skipped: dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mixtrain-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
args=(train --model mlp --precision bf16 --batch 16 --threads 1 --seed 7 --quiet --steps "$steps"
      --checkpoint-every 2 --checkpoint-keep 2)

"$bin" "${args[@]}" --out "$work/ref" >/dev/null 2>"$work/ref.err" || { cat "$work/ref.err"; exit 1; }

lost=0 torn=0 done_kills=0 checked=0 chains=0 mismatched=0 last_step=0
step_of() { local t; t=$(readlink "$1/latest" 2>/dev/null) || { echo 0; return; }; echo $((10#${t#step-})); }
# The wall-clock fields: "ms" of step lines, "elapsed_s" of eval lines (docs/METRICS.md).
strip() { grep -v '"type":"config"' "$1" | sed -E 's/"ms":[^,}]*,?//; s/"elapsed_s":[^,}]*,?//'; }

# Runs (or resumes) the chain in $work/run in the background; sets $pid.
start() {
  local resume=()
  [ -e "$work/run/latest" ] && resume=(--resume "$work/run")
  "$bin" "${args[@]}" "${resume[@]}" --out "$work/run" >/dev/null 2>"$work/run.err" &
  pid=$!
}

# A finished chain: the same bytes and metrics as the uninterrupted run, nothing left over.
finish_chain() {
  chains=$((chains + 1))
  local leftovers
  leftovers=$(cd "$work/run" && ls -A | grep -E '\.partial$|\.deleting$|\.tmp\.|^metrics\.live\.jsonl$' || true)
  if ! cmp -s "$work/ref/checkpoint.safetensors" "$work/run/checkpoint.safetensors" ||
     [ "$(strip "$work/ref/metrics.jsonl")" != "$(strip "$work/run/metrics.jsonl")" ] || [ -n "$leftovers" ]; then
    mismatched=$((mismatched + 1))
    echo "soak: chain $chains differs from the uninterrupted run (leftovers: ${leftovers:-none})"
  fi
  rm -rf "$work/run"
  last_step=0
}

while [ "$done_kills" -lt "$kills" ]; do
  start
  # 0.3 s to 3.3 s: mostly past the start-up (data loading) into the steps and their commits.
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.3 + 3.0 * r / 32767 }')"
  if ! kill -9 "$pid" 2>/dev/null; then  # it finished first
    wait "$pid" || { echo "soak: a resumed run failed:"; cat "$work/run.err"; exit 1; }
    finish_chain
    continue
  fi
  wait "$pid" 2>/dev/null || true
  done_kills=$((done_kills + 1))
  [ -e "$work/run/latest" ] || continue  # killed before the first commit
  step=$(step_of "$work/run")
  if [ "$step" -lt "$last_step" ]; then lost=$((lost + 1)); echo "soak: lost: latest went from $last_step to $step"; fi
  last_step=$step
  checked=$((checked + 1))
  if ! "$bin" inspect "$work/run/checkpoint.safetensors" >/dev/null 2>"$work/inspect.err" ||
     ! grep -q "\"steps\": $step\b" "$work/run/summary.json"; then
    torn=$((torn + 1)); echo "soak: torn checkpoint at step $step: $(cat "$work/inspect.err")"
  fi
done
# Complete the last chain.
start
wait "$pid" || { echo "soak: the final resume failed:"; cat "$work/run.err"; exit 1; }
finish_chain

echo "soak: $done_kills kills ($checked left a checkpoint to check), $lost lost, $torn torn checkpoints;" \
     "$chains chains of resumed runs, $mismatched differing from the uninterrupted run"
[ "$lost" = 0 ] && [ "$torn" = 0 ] && [ "$mismatched" = 0 ]
