#!/usr/bin/env bash
# Installs dependencies, builds the release preset (warnings are errors) and runs the whole test
# suite with ctest. `scripts/test.sh asan` runs it under AddressSanitizer + UBSan instead.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
bash scripts/install-deps.sh --test
bash scripts/build.sh "$preset"
export OMP_WAIT_POLICY=PASSIVE
ctest --preset "$preset" -j "$(nproc)"
