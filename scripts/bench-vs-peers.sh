#!/usr/bin/env bash
# Interleaved speed rounds against the peers (../shared/peers): mixtrain's MLP and GPT training
# steps in fp32, bf16 O2 and fp8 next to PyTorch fp32 and PyTorch bf16 autocast, one benchmark at
# a time, then `mixtrain bench gemm` (which times oneDNN's matmul in the same process) at the
# issue's GEMM shapes. OMP_WAIT_POLICY=PASSIVE for all.
#   scripts/bench-vs-peers.sh [ROUNDS] [steps|gemm|all] [BEFORE_BIN]
# BEFORE_BIN, when given, is another mixtrain binary (an older commit's build) timed in the same
# rounds. Prints median ms per step and the GEMM JSON lines; docs/BENCHMARKS.md has the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
what=${2:-all}
before=${3:-}
after=build/release/bin/mixtrain
peers=../shared/peers
export OMP_WAIT_POLICY=PASSIVE
echo "cpu flags: $(grep -o -w 'avx2\|avx512f\|avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
med() { grep -o '"median_ms": *[0-9.]*' | grep -o '[0-9.]*$'; }
step() { "$1" bench --model "$2" --precision "$3" --batch "$4" --steps "$5" | med; }
if [[ "$what" != gemm ]]; then
  for r in $(seq "$rounds"); do
    echo "round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    for p in fp32 bf16 fp8; do
      [[ -n "$before" ]] && echo "  mlp $p before $(step "$before" mlp $p 256 30)"
      echo "  mlp $p $(step "$after" mlp $p 256 30)"
    done
    echo "  mlp torch-fp32 $(/usr/bin/python3 $peers/mlp.py fp32 30 | med)"
    echo "  mlp torch-bf16 $(/usr/bin/python3 $peers/mlp.py bf16 5 | med)"
    for p in fp32 bf16 fp8; do
      [[ -n "$before" ]] && echo "  gpt $p before $(step "$before" gpt $p 8 10)"
      echo "  gpt $p $(step "$after" gpt $p 8 10)"
    done
    echo "  gpt torch-fp32 $(/usr/bin/python3 $peers/gpt.py fp32 10 | med)"
    echo "  gpt torch-bf16 $(/usr/bin/python3 $peers/gpt.py bf16 3 | med)"
  done
fi
if [[ "$what" != steps ]]; then
  for shape in "1024 1024 1024" "2048 2048 2048" "1024 768 256" "1024 1024 256" "1024 256 1024" \
               "768 256 1024" "256 256 1024"; do
    read -r m n k <<<"$shape"
    for d in fp32 bf16 e4m3 e5m2; do
      "$after" bench gemm --m "$m" --n "$n" --k "$k" --dtype "$d" --repeats "$((rounds * 3))"
    done
  done
fi
