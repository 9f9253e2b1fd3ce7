#!/usr/bin/env bash
# Installs the Debian 12 packages mixtrain needs (run as root). Skips apt entirely when everything
# is already installed, so repeated runs are fast.
#   install-deps.sh          build tools, libraries and the data sets (the demo needs these)
#   install-deps.sh --test   also the peers the integration tests use: PyTorch (loads our
#                            checkpoints), Chromium (renders the report) and oneDNN (the GEMM
#                            peer `mixtrain bench gemm` times in the same run), clang 16 with its
#                            libFuzzer and sanitizer runtimes (scripts/fuzz.sh). If those cannot be
#                            installed, the tests that need them skip with a message.
set -euo pipefail
required=(cmake ninja-build g++ libopenblas-dev zlib1g-dev libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev python3 dataset-fashion-mnist fortunes
          python3-dev python3-numpy pybind11-dev  # these three: the Python module (python/)
          libopenmpi-dev openmpi-bin)             # data-parallel training (docs/DISTRIBUTED.md)
optional=()
[[ "${1:-}" == "--test" ]] && optional=(python3-torch chromium libdnnl-dev clang-16 libclang-rt-16-dev)

missing() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
export DEBIAN_FRONTEND=noninteractive
need=($(missing "${required[@]}"))
want=($(missing "${optional[@]}"))
if ((${#need[@]} + ${#want[@]})); then
  apt-get update -qq
fi
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if ((${#want[@]})); then
  echo "installing (optional, for integration tests): ${want[*]}"
  apt-get install -y -qq --no-install-recommends "${want[@]}" ||
    echo "warning: could not install ${want[*]}; the tests that need them will skip"
fi
