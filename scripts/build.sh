#!/usr/bin/env bash
# Configures and builds a CMake preset (default: release) with Ninja.
set -euo pipefail
preset=${1:-release}
cd "$(dirname "$0")/.."
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
