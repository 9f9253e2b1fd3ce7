#!/usr/bin/env bash
# Builds mixtrain's libFuzzer targets (fuzz/) with clang in build/fuzz and runs each one for
# SECONDS on a scratch copy of its seed corpus (fuzz/corpus/<target>/ is never grown here: add a
# crash input to it by hand once it is minimised, so tests/test_fuzz_corpus.cpp replays it).
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default 300 s per target, all targets; 0 only replays
#                                           the corpus once under the sanitizers
#   scripts/fuzz.sh --make-seeds            rewrite the generated seeds in fuzz/corpus/
# Exits 0 when no target crashed, or with "skipped" when clang >= 16 or libFuzzer is missing
# (Debian 12: apt-get install clang-16 libclang-rt-16-dev); 1 when a target crashed, printing
# each crash file and the command that replays it. Environment: CXX (the clang++ to use),
# FUZZ_MAX_LEN (largest input the fuzzers try, default 16384).
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(fuzz_safetensors fuzz_idx fuzz_checkpoint fuzz_precision_map fuzz_metrics)
build=build/fuzz

# clang 16 at least: the library captures structured bindings in lambdas (C++20), which clang
# accepts from 16 on.
find_clang() {
  local c v
  for c in ${CXX:-} clang++-16 clang++-17 clang++-18 clang++-19 clang++; do
    command -v "$c" >/dev/null 2>&1 || continue
    v=$("$c" -dumpversion 2>/dev/null | cut -d. -f1 || true)
    if [[ "$v" =~ ^[0-9]+$ ]] && ((v >= 16)); then
      command -v "$c"  # the full path: CMake starts a fresh cache when the compiler path differs
      return 0
    fi
  done
  return 0  # nothing printed: none found
}
cxx=$(find_clang)
if [[ -z "$cxx" ]]; then
  echo "fuzz: skipped: no clang++ >= 16 found (Debian 12: apt-get install clang-16 libclang-rt-16-dev)"
  exit 0
fi
# libFuzzer and the sanitizer runtimes come in a separate package: try linking a fuzzer.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }\n' >"$probe/t.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/t.cpp" -o "$probe/t" 2>"$probe/err"; then
  echo "fuzz: skipped: $cxx cannot link -fsanitize=fuzzer,address,undefined (libFuzzer missing;" \
       "Debian 12: apt-get install libclang-rt-$("$cxx" -dumpversion | cut -d. -f1)-dev):"
  head -3 "$probe/err"
  exit 0
fi

# The library's AVX-512 units use `#pragma GCC target`, which clang ignores: leave them out (the
# fuzz build runs the generic kernels anyway, see fuzz/cpu_features_shim.h).
echo "fuzz: configuring $build with $cxx"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DMIXTRAIN_FUZZ=ON -DMIXTRAIN_WERROR=OFF -DMIXTRAIN_BUILD_TESTS=OFF -DMIXTRAIN_BUILD_BENCH=OFF \
  -DMIXTRAIN_COMPILER_HAS_AVX512BF16=OFF >/dev/null

if [[ "${1:-}" == "--make-seeds" ]]; then
  cmake --build "$build" --target fuzz_make_seeds -j "$(nproc)"
  "$build/fuzz/fuzz_make_seeds" fuzz/corpus
  exit 0
fi

seconds=300
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (known: ${all_targets[*]})"; exit 2; }
done

cmake --build "$build" --target "${targets[@]}" -j "$(nproc)"

# UBSan halts on its first report (-fno-sanitize-recover=undefined); ask it for the stack too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Readable stacks need llvm-symbolizer (Debian: llvm-16); the runtime does not find it by itself.
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]]; then
  sym=$(command -v "llvm-symbolizer-$("$cxx" -dumpversion | cut -d. -f1)" || command -v llvm-symbolizer || true)
  if [[ -n "$sym" ]]; then export ASAN_SYMBOLIZER_PATH=$sym; fi
fi
failed=()
for t in "${targets[@]}"; do
  work=$build/run/$t
  rm -rf "$work"
  # tmp: the targets' scratch files (fuzz_readers.h) and fork mode's, in one place: a crashing
  # input leaves its scratch directory behind, and the next run removes $work.
  mkdir -p "$work/artifacts" "$work/tmp"
  export TMPDIR=$PWD/$work/tmp
  if ((seconds == 0)); then
    # Replay only: every corpus file once, under the sanitizers (catches the undefined behaviour
    # that the g++ replay test cannot see).
    echo "fuzz: replaying fuzz/corpus/$t"
    for f in "fuzz/corpus/$t"/*; do
      if ! "$build/fuzz/$t" -timeout=10 -rss_limit_mb=2048 "$f" >"$work/log" 2>&1; then
        failed+=("$t")
        echo "  FAILED: $f"
        grep -m2 -E 'runtime error|ERROR: |terminate called|what\(\):' "$work/log" | sed 's/^/    /' || true
      fi
    done
    continue
  fi
  cp -r "fuzz/corpus/$t" "$work/corpus"  # the fuzzer adds what it finds to this copy only
  dict=()
  if [[ -f "fuzz/$t.dict" ]]; then dict=(-dict="fuzz/$t.dict"); fi
  echo "fuzz: running $t for ${seconds}s (log: $work/log)"
  # Fork mode with the crash/OOM/timeout ignores: a bug that is not fixed yet (its input pinned in
  # the corpus) is recorded and the fuzzing goes on, instead of stopping at the first seed.
  rc=0
  "$build/fuzz/$t" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -max_len="${FUZZ_MAX_LEN:-16384}" -fork="${FUZZ_JOBS:-1}" \
    -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -artifact_prefix="$work/artifacts/" \
    >"$work/log" 2>&1 || rc=$?
  # Fork mode's progress lines: "#RUNS: cov: N ft: N corp: N exec/s: N oom/timeout/crash: a/b/c ...".
  grep -E '^#[0-9]+: cov:' "$work/log" | tail -1 | sed 's/^/  last: /' || true
  crashes=$(find "$work/artifacts" -type f ! -name 'slow-unit-*' | sort)
  if ((rc != 0)) || [[ -n "$crashes" ]]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc)"
    for c in $crashes; do
      # Artifacts are named after the SHA-1 of their content: say when it is a pinned corpus file.
      pinned=""
      for f in "fuzz/corpus/$t"/*; do
        if [[ "$(sha1sum <"$f" | cut -d' ' -f1)" == "${c##*-}" ]]; then pinned=" (= $f: pinned, not fixed yet)"; fi
      done
      echo "  crash file: $c$pinned"
      "$build/fuzz/$t" -timeout=10 -rss_limit_mb=2048 "$c" 2>&1 |
        grep -m2 -E 'runtime error|ERROR: |terminate called|what\(\):' | sed 's/^/    /' || true
      echo "    replay:   $build/fuzz/$t $c"
      echo "    minimise: $build/fuzz/$t -minimize_crash=1 -runs=100000 -exact_artifact_path=$c.min $c"
    done
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: crashes in $(printf '%s\n' "${failed[@]}" | sort -u | tr '\n' ' ')"
  exit 1
fi
echo "fuzz: ${targets[*]}: no crash in ${seconds}s each"
