#!/usr/bin/env bash
# Checks that the build's layer boundaries hold (src/CMakeLists.txt): each layer compiles against
# an include root that shows only its own folder and the layers below it, so an upward #include
# must fail to compile while a downward one compiles. A handful of representative includes per
# boundary, each compiled alone (-fsyntax-only). Usage: check-layers.sh CXX LAYER_INCLUDE_DIR
set -euo pipefail
cxx=${1:?usage: check-layers.sh CXX LAYER_INCLUDE_DIR}
roots=${2:?usage: check-layers.sh CXX LAYER_INCLUDE_DIR}
bad=0
probe() {  # layer header expect(ok|refused)
  local layer=$1 header=$2 expect=$3 out
  if out=$(echo "#include \"$header\"" | "$cxx" -std=c++20 -fsyntax-only -x c++ -I "$roots/$layer" - 2>&1); then
    got=ok
  elif grep -q "No such file" <<<"$out"; then
    got=refused
  else
    echo "FAIL: $layer including $header: compile error other than a missing header:"; echo "$out" | head -5
    bad=$((bad + 1)); return
  fi
  if [[ $got != "$expect" ]]; then
    echo "FAIL: layer $layer including $header: expected $expect, got $got"; bad=$((bad + 1))
  else
    echo "ok: layer $layer including $header is $got"
  fi
}
probe numerics tensor/tensor.h refused
probe tensor backend/kernels.h refused
probe tensor numerics/convert.h ok
probe backend_cpu backend/reference/reference_backend.h refused
probe backend_cpu ops/common.h refused
probe backend_cpu backend/kernels.h ok
probe backend_reference backend/cpu/gemm.h refused
probe autograd ops/ops.h refused
probe ops backend/cpu/gemm.h refused
probe ops backend/reference/reference_backend.h refused
probe ops backend/kernels.h ok
probe ops nn/module.h refused
probe nn optim/optimizer.h refused
probe optim train/trainer.h refused
probe data tensor/tensor.h refused
probe train backend/cpu/gemm.h refused
probe train backend/registry.h ok
probe train train/trainer.h ok
probe dist tensor/tensor.h refused
probe optim dist/communicator.h refused
probe train dist/communicator.h ok
((bad == 0)) && echo "layer boundaries hold"
exit $((bad > 0))
