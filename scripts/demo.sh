#!/usr/bin/env bash
# The main job: installs dependencies, builds, shows what each format does to a number, then
# trains the Fashion-MNIST MLP in fp32, fp16, bf16 and fp8 with the same seed and data order and
# writes the comparison report (a few minutes on 2 cores). EPOCHS=N overrides the length. It also
# installs the build under /usr/local (the tool, the C++ package for find_package(mixtrain) and
# the Python module where Debian's python3 finds it), so mixtrain is usable from the shell, C++
# and `python3 -c "import mixtrain"` afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
cmake --install build/release --prefix /usr/local >/dev/null
export OMP_WAIT_POLICY=PASSIVE
bin=build/release/bin/mixtrain
"$bin" formats 3.14159
"$bin" compare --model mlp --precisions fp32,fp16,bf16,fp8 --epochs "${EPOCHS:-2}" --out build/demo/mlp
echo "open build/demo/mlp/report.html in a browser (self-contained, no network needed)"
