// libFuzzer target: train::read_checkpoint_info and train::load_checkpoint into a tiny model.
// The reader call lives in fuzz_readers.h (shared with tests/test_fuzz_corpus.cpp); seeds in
// fuzz/corpus/fuzz_checkpoint/. Build and run: scripts/fuzz.sh [SECONDS] fuzz_checkpoint
#include <cstddef>
#include <cstdint>

#include "fuzz_readers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    mixtrain::fuzz::checkpoint_input({data, size});
  } catch (const mixtrain::Error&) {
    // A rejected input. Any other exception escapes, and libFuzzer records it as a crash with
    // the stack of the throw.
  }
  return 0;
}
