#!/usr/bin/env bash
# Interleaved speed rounds for issue 5's targets: mixtrain's MLP and GPT steps in bf16 O2 next to
# the PyTorch peers (../shared/peers), one benchmark at a time, OMP_WAIT_POLICY=PASSIVE for all.
#   scripts/bench-vs-peers.sh [ROUNDS] [BEFORE_BIN]
# BEFORE_BIN, when given, is another mixtrain binary (an older commit's build) timed in the same
# rounds. Prints median ms per step; docs/BENCHMARKS.md has the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
before=${2:-}
after=build/release/bin/mixtrain
peers=../shared/peers
export OMP_WAIT_POLICY=PASSIVE
med() { grep -o '"median_ms": *[0-9.]*' | grep -o '[0-9.]*$'; }
step() { "$1" bench --model "$2" --precision bf16 --batch "$3" --steps "$4" | med; }
for r in $(seq "$rounds"); do
  echo "round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
  [[ -n "$before" ]] && echo "  mlp before  $(step "$before" mlp 256 30)"
  echo "  mlp after   $(step "$after" mlp 256 30)"
  echo "  mlp torch32 $(/usr/bin/python3 $peers/mlp.py fp32 30 | med)"
  echo "  mlp torch16 $(/usr/bin/python3 $peers/mlp.py bf16 5 | med)"
  [[ -n "$before" ]] && echo "  gpt before  $(step "$before" gpt 8 10)"
  echo "  gpt after   $(step "$after" gpt 8 10)"
  echo "  gpt torch32 $(/usr/bin/python3 $peers/gpt.py fp32 10 | med)"
done
