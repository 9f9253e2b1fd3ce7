#!/usr/bin/env bash
# Checks that mixtrain installs as a package others can use: `cmake --install` a build tree into
# a temporary prefix, then checks that the installed headers name each other only as
# "mixtrain/..." and that no path of the source or build tree leaks into the package files, and
# finally configures, builds and runs tests/consumer/ (find_package(mixtrain), mixtrain::mixtrain,
# <mixtrain/...> includes) against that prefix alone.
# Usage: check-install.sh BUILD_DIR [CXX [CMAKE]]   (the ctest install.consumer_finds_package_and_runs)
set -euo pipefail
build=$(cd "${1:?usage: check-install.sh BUILD_DIR [CXX [CMAKE]]}" && pwd)
cxx=${2:-c++}
cmake=${3:-cmake}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mixtrain-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/mixtrain/version.h include/mixtrain/nn/mlp.h lib/cmake/mixtrain/mixtrainConfig.cmake \
         lib/cmake/mixtrain/mixtrainConfigVersion.cmake lib/cmake/mixtrain/mixtrainTargets.cmake bin/mixtrain; do
  [[ -e $prefix/$f ]] || { echo "FAIL: $f was not installed"; exit 1; }
done
# An include of another layer that kept its short name would need src/ on the consumer's path.
layers=$(cd "$src/src" && ls -d -- */ | tr -d / | paste -sd '|')
if grep -rnE "#include \"($layers)/" "$prefix/include/mixtrain"; then
  echo "FAIL: installed headers above include other layers without the mixtrain/ prefix"; exit 1
fi
if grep -rlF -e "$src/src" -e "$build" "$prefix/lib/cmake" "$prefix/include"; then
  echo "FAIL: the files above name the source or build tree"; exit 1
fi
version=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$prefix/lib/cmake/mixtrain/mixtrainConfigVersion.cmake")
said=$("$prefix/bin/mixtrain" --version)
[[ $said == "mixtrain $version" ]] || { echo "FAIL: mixtrain --version said '$said', the package is $version"; exit 1; }
echo "$said"
# The Python module, when it was built, imports from where the prefix put it.
for module in "$prefix"/lib/python3*/dist-packages/mixtrain*.so; do
  [[ -e $module ]] || continue
  python=$(command -v /usr/bin/python3 python3 | head -1)
  PYTHONPATH=$(dirname "$module") "$python" -c "import mixtrain; assert mixtrain.__version__ == '$version', mixtrain.__file__"
  echo "python module ok: $module"
done

# The consumer sees only the prefix: no mixtrain source or build directory on any path.
"$cmake" -S "$src/tests/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" \
      >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
"$cmake" --build "$work/consumer" -j 2 >"$work/build.log" || { cat "$work/build.log"; exit 1; }
"$work/consumer/consumer"
echo "install ok: find_package(mixtrain) from $prefix, consumer built and ran"
