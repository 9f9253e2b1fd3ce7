#!/usr/bin/env bash
# Installs the Debian 12 packages mixtrain needs to build, test and run its demo (run as root).
# Skips apt entirely when everything is already installed, so repeated runs are fast.
set -euo pipefail
packages=(cmake ninja-build g++ libopenblas-dev zlib1g-dev libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
