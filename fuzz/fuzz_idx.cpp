// libFuzzer target: data::read_idx_gz on arbitrary bytes, gzip-compressed or raw.
// The reader call lives in fuzz_readers.h (shared with tests/test_fuzz_corpus.cpp); seeds in
// fuzz/corpus/fuzz_idx/. Build and run: scripts/fuzz.sh [SECONDS] fuzz_idx
#include <cstddef>
#include <cstdint>

#include "fuzz_readers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    mixtrain::fuzz::idx_input({data, size});
  } catch (const mixtrain::Error&) {
    // A rejected input. Any other exception escapes, and libFuzzer records it as a crash with
    // the stack of the throw.
  }
  return 0;
}
