// Writes the binary seeds of fuzz/corpus/ that are easier to generate than to write by hand: files
// from mixtrain's own writers (a checkpoint of the fuzz model of fuzz_readers.h, so the seed
// loads and the fuzzer starts deep inside load_checkpoint), variants of them, and the deeply
// nested inputs. Text seeds (precision maps, metrics lines) are checked in as written.
//   fuzz_make_seeds CORPUS_DIR      (scripts/fuzz.sh --make-seeds runs it on fuzz/corpus)
// Rerun it when the fuzz model or the checkpoint format changes; the replay test insists that
// every valid_* seed is still accepted.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_readers.h"

namespace {

using mixtrain::io::SafeTensor;
using mixtrain::io::SafeTensorsFile;
namespace fs = std::filesystem;

std::string root;

std::string at(const std::string& target, const std::string& name) {
  fs::create_directories(root + "/" + target);
  return root + "/" + target + "/" + name;
}

void write_raw(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0)
    throw mixtrain::Error("cannot write " + path);
}

std::string read_raw(const std::string& path) {
  std::string s(fs::file_size(path), '\0');
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f || std::fread(s.data(), 1, s.size(), f) != s.size()) throw mixtrain::Error("cannot read " + path);
  std::fclose(f);
  return s;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb9");
  if (!f || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size()) ||
      gzclose(f) != Z_OK)
    throw mixtrain::Error("cannot write " + path);
}

// A safetensors file around a raw header text (no data section).
std::string with_header(const std::string& json) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  return out + json;
}

// "[[[...]]]", `depth` levels. Balanced on purpose: nlohmann builds the whole tree and then
// overflows the stack; an unclosed one is only a syntax error.
std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }
constexpr std::size_t kDeep = 100'000;  // enough to overflow an 8 MiB stack without sanitizers

SafeTensor tensor(std::string name, std::string dtype, std::vector<std::int64_t> shape, std::size_t bytes) {
  SafeTensor t;
  t.name = std::move(name);
  t.dtype = std::move(dtype);
  t.shape = std::move(shape);
  for (std::size_t i = 0; i < bytes; ++i) t.data.push_back(static_cast<std::byte>((i * 37 + 11) & 0xFF));
  return t;
}

void safetensors_seeds() {
  const std::string d = "fuzz_safetensors";
  SafeTensorsFile f;
  f.metadata["format"] = "pt";
  f.tensors = {tensor("w", "F32", {2, 2}, 16), tensor("h", "BF16", {3}, 6), tensor("n", "I64", {}, 8),
               tensor("e", "U8", {0}, 0), tensor("q", "F8_E4M3", {2, 1}, 2)};
  mixtrain::io::write_safetensors(at(d, "valid_small.safetensors"), f);
  const std::string small = read_raw(at(d, "valid_small.safetensors"));
  write_raw(at(d, "truncated.safetensors"), small.substr(0, small.size() - 5));
  write_raw(at(d, "valid_empty.safetensors"), with_header("{}"));
  write_raw(at(d, "overlap.safetensors"),
            with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                        R"("b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})") + "abc");
  write_raw(at(d, "numel_overflow.safetensors"),
            with_header(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})"));
  std::string beyond = with_header("{}");
  beyond[0] = '\x40';  // header length 64 in a 10-byte file
  write_raw(at(d, "header_beyond_file.safetensors"), beyond);
  // The known stack overflow: the reader dumps a bad "shape" entry into its message, and dump()
  // recurses once per level.
  write_raw(at(d, "nested_header.safetensors"),
            with_header(R"({"t":{"dtype":"F32","shape":[)" + nested(kDeep) + R"(],"data_offsets":[0,0]}})"));
}

void checkpoint_seeds() {
  const std::string d = "fuzz_checkpoint";
  const auto m = mixtrain::fuzz::make_fuzz_model();
  // State a trained model would have: fp8 amax histories, a loss scale that moved, a step count.
  for (std::size_t i : {0u, 2u}) {
    auto& lin = dynamic_cast<mixtrain::nn::Linear&>(m->model[i]);
    lin.fp8_input().restore(2.0f, {0.5f, 1.0f, 0.25f});
    lin.fp8_weight().restore(64.0f, {0.125f});
    lin.fp8_grad().restore(4096.0f, {});
  }
  nlohmann::json scale = m->scaler.state_dict();
  scale["scale"] = 1024.0;
  scale["steps"] = 7;
  scale["skipped"] = 2;
  m->scaler.load_state_dict(scale);
  m->opt->set_steps(7);
  const nlohmann::json run = {{"step", 7}, {"config", {{"model", "fuzz"}, {"precision", "fp8"}, {"seed", 1}}}};
  const std::string valid = at(d, "valid_checkpoint.safetensors");
  mixtrain::train::save_checkpoint(valid, m->model, *m->opt, m->scaler, run);

  const std::string bytes = read_raw(valid);
  write_raw(at(d, "truncated_checkpoint.safetensors"), bytes.substr(0, bytes.size() / 2));
  // Variants with one metadata entry replaced.
  auto variant = [&](const std::string& name, const std::string& key, const std::string& value) {
    SafeTensorsFile f = mixtrain::io::read_safetensors(valid);
    f.metadata[key] = value;
    mixtrain::io::write_safetensors(at(d, name), f);
  };
  variant("steps_wrong_type.safetensors", "optimizer", R"({"name":"adamw","steps":"7"})");
  variant("optimizer_not_object.safetensors", "optimizer", "[7]");
  // Integer fields holding a float beyond int64: nlohmann's get<std::int64_t>() casts it, which is
  // undefined behaviour (UBSan: float-cast-overflow); they must be rejected.
  variant("reject_scaler_steps_1e300.safetensors", "scaler",
          R"({"scale":1024.0,"growth_tracker":0,"hysteresis_left":1,"steps":1e300,"skipped":0})");
  variant("reject_optimizer_steps_1e300.safetensors", "optimizer", R"({"name":"adamw","steps":1e300})");
  variant("fp8_scale_beyond_float.safetensors", "fp8",
          R"({"0":{"fp8_input":{"scale":1e300,"history":[]},"fp8_weight":{"scale":1,"history":[]},)"
          R"("fp8_grad":{"scale":1,"history":[]}}})");
  variant("run_nested.safetensors", "run", nested(kDeep));
}

void idx_seeds() {
  const std::string d = "fuzz_idx";
  auto header = [](int ndims, std::vector<std::uint32_t> dims) {
    std::string h = {'\0', '\0', '\x08', static_cast<char>(ndims)};
    for (const auto v : dims)
      for (int s = 24; s >= 0; s -= 8) h += static_cast<char>((v >> s) & 0xFF);
    return h;
  };
  write_raw(at(d, "valid_raw_2x3.idx"), header(2, {2, 3}) + "abcdef");
  write_gz(at(d, "valid_3x2x2.idx.gz"), header(3, {3, 2, 2}) + "0123456789ab");
  write_raw(at(d, "trailing_byte.idx"), header(1, {2}) + "xyz");
  write_raw(at(d, "bad_magic.idx"), std::string("\0\0\x0d\x01\0\0\0\x01z", 9));
  // The known huge allocation: 2^31 x 2 x 2 bytes (8 GiB) declared in a 16-byte file.
  write_raw(at(d, "huge_dims.idx"), header(3, {0x80000000u, 2, 2}));
  // Found by fuzz_idx: 2^31 x 4 x 2^31 = 2^64 overflows the reader's int64 running product (UB)
  // and wraps to 0, so the header passes the size limit and an array with no data is accepted.
  write_raw(at(d, "reject_dims_product_overflow.idx"), header(3, {0x80000000u, 4, 0x80000000u}));
  write_gz(at(d, "truncated.idx.gz"), header(2, {40, 40}) + std::string(1600, 'q'));
  const std::string gz = read_raw(at(d, "truncated.idx.gz"));
  write_raw(at(d, "truncated.idx.gz"), gz.substr(0, gz.size() - 9));
}

void metrics_seeds() {
  // The known stack overflow in the metrics reader: one line nested kDeep levels.
  write_raw(at("fuzz_metrics", "nested_line.jsonl"), "{\"step\":1,\"loss\":" + nested(kDeep) + "}\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  root = argv[1];
  try {
    safetensors_seeds();
    checkpoint_seeds();
    idx_seeds();
    metrics_seeds();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  std::printf("seeds written under %s\n", root.c_str());
  return 0;
}
