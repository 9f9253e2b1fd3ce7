#!/usr/bin/env bash
# Guards the per-ISA translation units (*_avx512.cpp) against a link-time crash class: an inline
# function or template from a header, compiled with AVX-512 instructions into a COMDAT (weak)
# copy, may be the copy the linker keeps for the whole program, and then runs on CPUs without
# AVX-512. The units enable their ISA with a target pragma after their includes so that this
# cannot happen; this check fails if any weak symbol of their objects uses zmm registers or mask
# registers. Usage: check-isa-units.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check-isa-units.sh BUILD_DIR}
mapfile -t objs < <(find "$build" -name '*_avx512.cpp.o')
if ((${#objs[@]} == 0)); then
  echo "no AVX-512 units in $build (not built on this compiler): nothing to check"
  exit 0
fi
bad=0
for o in "${objs[@]}"; do
  weak=0
  for sym in $(nm "$o" | awk '$2 == "W" {print $3}'); do
    # Instantiations over 16-lane 32-bit vectors (mangled Dv16_) are the AVX-512 units' own: only
    # code that already holds 512-bit vectors can call them (vec_lanes.h).
    [[ "$sym" == *Dv16_* ]] && continue
    weak=$((weak + 1))
    # Captured first: with pipefail, grep -q closing the pipe early would fail objdump (SIGPIPE).
    code=$(objdump -d --disassemble="$sym" "$o")
    if grep -qE '%zmm|%k[1-7]' <<<"$code"; then
      echo "FAIL: $(basename "$o"): weak symbol $(echo "$sym" | c++filt) contains AVX-512 code"
      bad=$((bad + 1))
    fi
  done
  echo "$(basename "$o"): $weak weak symbols checked"
done
((bad == 0))
