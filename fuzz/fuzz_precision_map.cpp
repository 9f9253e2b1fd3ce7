// libFuzzer target: amp::PrecisionMap::parse (and lookup, to_string) on arbitrary text.
// The reader call lives in fuzz_readers.h (shared with tests/test_fuzz_corpus.cpp); seeds in
// fuzz/corpus/fuzz_precision_map/. Build and run: scripts/fuzz.sh [SECONDS] fuzz_precision_map
#include <cstddef>
#include <cstdint>

#include "fuzz_readers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    mixtrain::fuzz::precision_map_input({data, size});
  } catch (const mixtrain::Error&) {
    // A rejected input. Any other exception escapes, and libFuzzer records it as a crash with
    // the stack of the throw.
  }
  return 0;
}
