#!/usr/bin/env bash
# Installs dependencies, builds the release preset (warnings are errors) and runs the whole test
# suite with ctest, then each libFuzzer target for a short bounded time (FUZZ_SECONDS, default 30;
# 0 only replays the seed corpora under ASan/UBSan). `scripts/test.sh asan` runs the suite under
# AddressSanitizer + UBSan instead (no fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
bash scripts/install-deps.sh --test
bash scripts/build.sh "$preset"
export OMP_WAIT_POLICY=PASSIVE
ctest --preset "$preset" -j "$(nproc)"
if [[ "$preset" == release ]]; then
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
