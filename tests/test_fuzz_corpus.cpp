// Replays fuzz/corpus/<target>/ (the libFuzzer seeds and every crash the fuzzers found) through
// the fuzz targets' reader calls (fuzz/fuzz_readers.h) in the normal build, so CI pins each fixed
// bug without clang or libFuzzer. Every input must be accepted or rejected with mixtrain::Error;
// inputs named valid_* must be accepted (so the seeds keep starting the fuzzers deep inside the
// readers), inputs named reject_* must be rejected (a bug whose symptom is silent undefined
// behaviour in this build, e.g. a float-to-integer overflow, shows as a wrongly accepted file).
// The corpus is found next to this source file (or in $MIXTRAIN_FUZZ_CORPUS).
#include <cxxabi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <typeinfo>
#include <vector>

#include "../fuzz/fuzz_readers.h"

// Single allocations above 2 GiB fail with std::bad_alloc (a bug, not an Error), as they do under
// the fuzzers' -rss_limit_mb=2048 (libFuzzer's malloc limit): a reader that believes a header
// declaring gigabytes must fail this test, not push the CI machine into swap or the OOM killer.
namespace {
constexpr std::size_t kMaxAllocation = std::size_t{2} << 30;
}  // namespace

// Out of line: GCC would otherwise inline free() next to the `new` expressions that called the
// replaced operator new and warn about a malloc/delete mismatch that is not one.
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (n > kMaxAllocation) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) { return ::operator new(n); }
// The nothrow forms too (std::stable_sort's buffer): a sanitizer runtime that supplies the forms
// left out would report its allocations freed here as mismatched.
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return n > kMaxAllocation ? nullptr : std::malloc(n == 0 ? 1 : n);
}
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace fs = std::filesystem;
using mixtrain::fuzz::Bytes;

fs::path corpus_root() {
  if (const char* env = std::getenv("MIXTRAIN_FUZZ_CORPUS"); env && *env) return env;
  return fs::path(__FILE__).parent_path().parent_path() / "fuzz" / "corpus";
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string type_name(const std::exception& e) {
  int status = 0;
  char* s = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : typeid(e).name();
  std::free(s);
  return out;
}

// Every file of fuzz/corpus/<target>/ through `run`.
void replay(const char* target, void (*run)(Bytes)) {
  const fs::path dir = corpus_root() / target;
  ASSERT_TRUE(fs::is_directory(dir)) << "no corpus at " << dir;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << dir << " is empty";

  for (const auto& file : files) {
    const std::string name = file.filename().string();
    // A crash takes the whole test binary down: say which input it was replaying.
    std::fprintf(stderr, "replaying %s/%s\n", target, name.c_str());
    std::fflush(stderr);
    const std::vector<std::uint8_t> bytes = read_file(file);
    const bool must_accept = name.starts_with("valid"), must_reject = name.starts_with("reject");
    try {
      run(Bytes(bytes.data(), bytes.size()));
      EXPECT_FALSE(must_reject) << target << "/" << name << ": accepted, but it must be rejected";
    } catch (const mixtrain::Error& e) {
      EXPECT_FALSE(must_accept) << target << "/" << name << ": a valid seed was rejected: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << target << "/" << name << ": threw " << type_name(e) << " instead of mixtrain::Error: " << e.what();
    } catch (...) {
      ADD_FAILURE() << target << "/" << name << ": threw something that is not a std::exception";
    }
  }
}

TEST(FuzzCorpus, Safetensors) { replay("fuzz_safetensors", &mixtrain::fuzz::safetensors_input); }
TEST(FuzzCorpus, Idx) { replay("fuzz_idx", &mixtrain::fuzz::idx_input); }
TEST(FuzzCorpus, Checkpoint) { replay("fuzz_checkpoint", &mixtrain::fuzz::checkpoint_input); }
TEST(FuzzCorpus, PrecisionMap) { replay("fuzz_precision_map", &mixtrain::fuzz::precision_map_input); }
TEST(FuzzCorpus, Metrics) { replay("fuzz_metrics", &mixtrain::fuzz::metrics_input); }

}  // namespace
