#!/usr/bin/env bash
# Checks that a refactor changed no numbers: eight fixed-seed training runs (every model, the
# precisions and optimizer paths that differ most) with two builds of mixtrain, then the metrics
# (the "ms" timing field removed) and the checkpoints compared byte for byte.
# Usage: identical-runs.sh BEFORE_BIN AFTER_BIN [WORKDIR]. Needs dataset-fashion-mnist and fortunes.
set -euo pipefail
before=${1:?usage: identical-runs.sh BEFORE_BIN AFTER_BIN [WORKDIR]}
after=${2:?usage: identical-runs.sh BEFORE_BIN AFTER_BIN [WORKDIR]}
work=${3:-$(mktemp -d)}
mkdir -p "$work"
export OMP_WAIT_POLICY=PASSIVE
runs=(
  "mlp_bf16|--model mlp --precision bf16 --steps 30"
  "mlp_fp32_sgd|--model mlp --precision fp32 --optimizer sgd --steps 20 --clip 1"
  "mlp_fp16|--model mlp --precision fp16 --steps 20"
  "gpt_bf16|--model gpt --precision bf16 --steps 12 --batch 4 --context 64"
  "gpt_fp8|--model gpt --precision fp8 --steps 8 --batch 4 --context 64"
  "cnn_fp16|--model cnn --precision fp16 --steps 6 --batch 32"
  "resnet_bf16|--model resnet --precision bf16 --steps 4 --batch 16"
  "mlp_o3sr|--model mlp --precision bf16-O3-sr --steps 10"
)
strip() { sed -E 's/"(ms|elapsed_s)":[0-9.e+-]+,?//g' "$1"; }  # the wall-clock fields
bad=0
for r in "${runs[@]}"; do
  name=${r%%|*}
  read -r -a flags <<<"${r#*|}"
  for side in before after; do
    bin=$before; [[ $side == after ]] && bin=$after
    "$bin" train "${flags[@]}" --threads 2 --seed 7 --quiet --out "$work/$side/$name" >"$work/$side.$name.log" 2>&1 ||
      { echo "FAIL: $side $name did not run (see $work/$side.$name.log)"; bad=1; continue 2; }
  done
  if ! diff -q <(strip "$work/before/$name/metrics.jsonl") <(strip "$work/after/$name/metrics.jsonl") >/dev/null; then
    echo "DIFFER: $name metrics.jsonl"; bad=1
  elif ! cmp -s "$work/before/$name/checkpoint.safetensors" "$work/after/$name/checkpoint.safetensors"; then
    echo "DIFFER: $name checkpoint"; bad=1
  else
    echo "identical: $name"
  fi
done
exit $bad
