// safetensors reader (validate the header completely before touching the data) and writer
// (header padded to 8 bytes, written through AtomicFile).
#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "io/json_text.h"
#include "runtime/error.h"

namespace mixtrain::io {

// The format and mixtrain's raw arrays are little-endian; we copy bytes without swapping.
static_assert(std::endian::native == std::endian::little, "mixtrain io assumes a little-endian host");

namespace {

using Json = nlohmann::ordered_json;  // keeps the file's key order (ties between empty tensors)

struct DTypeSize {
  std::string_view name;
  std::size_t size;
};
constexpr DTypeSize kDTypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
    {"U16", 2}, {"U8", 1},  {"BOOL", 1},
};

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error("'" + path + "': invalid safetensors file: " + what);
}

struct Entry {
  SafeTensor tensor;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

Entry parse_entry(const std::string& path, const std::string& name, const Json& v,
                  std::uint64_t data_len) {
  const std::string where = "tensor '" + printable(name) + "': ";
  if (!v.is_object()) bad(path, where + "entry is not an object");
  Entry e;
  e.tensor.name = name;

  const auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) bad(path, where + "missing or non-string \"dtype\"");
  e.tensor.dtype = dt->get<std::string>();
  const auto elem = safetensors_element_size(e.tensor.dtype);
  if (!elem) bad(path, where + "unknown dtype '" + printable(e.tensor.dtype) + "'");

  const auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array())
    bad(path, where + "missing \"shape\" or not an array");
  std::uint64_t numel = 1;
  bool numel_overflow = false;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned())
      bad(path, where + "\"shape\" entry " + printable(d.dump()) + " is not a non-negative integer");
    const auto dim = d.get<std::uint64_t>();
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      bad(path, where + "dimension " + std::to_string(dim) + " is too large");
    e.tensor.shape.push_back(static_cast<std::int64_t>(dim));
    numel_overflow |= __builtin_mul_overflow(numel, dim, &numel);
  }

  const auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    bad(path, where + "missing \"data_offsets\" or not two non-negative integers");
  e.begin = (*off)[0].get<std::uint64_t>();
  e.end = (*off)[1].get<std::uint64_t>();
  if (e.begin > e.end)
    bad(path, where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] end before they begin");
  if (e.end > data_len)
    bad(path, where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] reach beyond the data section (" + std::to_string(data_len) + " bytes)");
  std::uint64_t bytes = 0;
  if (numel_overflow || __builtin_mul_overflow(numel, *elem, &bytes) || bytes != e.end - e.begin)
    bad(path, where + "shape " + printable(sh->dump()) + " of " + e.tensor.dtype + " needs " +
                  (numel_overflow ? std::string("too many") : std::to_string(numel) + " x " +
                                                                  std::to_string(*elem)) +
                  " bytes but data_offsets span " + std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

std::optional<std::size_t> safetensors_element_size(std::string_view dtype) {
  for (const auto& d : kDTypes)
    if (d.name == dtype) return d.size;
  return std::nullopt;
}

std::uint64_t SafeTensor::numel() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

const SafeTensor* SafeTensorsFile::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}
SafeTensor* SafeTensorsFile::find(std::string_view name) {
  return const_cast<SafeTensor*>(std::as_const(*this).find(name));
}

SafeTensorsFile read_safetensors(const std::string& path) {
  const InputFile in(path);
  if (in.size() < 8)
    bad(path, "file is " + std::to_string(in.size()) + " bytes, shorter than the 8-byte header length");
  unsigned char len_bytes[8];
  in.read_at(0, len_bytes, 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > in.size() - 8)
    bad(path, "header length " + std::to_string(n) + " exceeds the file size (" +
                  std::to_string(in.size()) + " bytes)");
  if (n > kSafetensorsMaxHeader)
    bad(path, "header length " + std::to_string(n) + " exceeds the limit of " +
                  std::to_string(kSafetensorsMaxHeader) + " bytes");
  std::string text(static_cast<std::size_t>(n), '\0');
  in.read_at(8, text.data(), text.size());
  const std::uint64_t data_start = 8 + n;
  const std::uint64_t data_len = in.size() - data_start;

  if (json_depth(text) > kMaxJsonDepth)
    bad(path, "header is JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  Json header;
  try {
    header = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    bad(path, "header is not valid JSON: " + printable(e.what()));
  }
  if (!header.is_object()) bad(path, "header is not a JSON object");

  SafeTensorsFile file;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_null()) continue;  // the reference implementation accepts null as "none"
      if (!it->is_object()) bad(path, "\"__metadata__\" is not an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          bad(path, "\"__metadata__\" value of '" + printable(m.key()) + "' is not a string");
        file.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, it.key(), it.value(), data_len));
  }

  // The tensors must tile [0, data_len) exactly: sorted by offset, each begins where the previous
  // one ended. Equal offsets only happen between empty tensors; stable_sort keeps header order.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const auto& e : entries) {
    if (e.begin < expected)
      bad(path, "tensors '" + printable(prev->tensor.name) + "' and '" + printable(e.tensor.name) +
                    "' overlap");
    if (e.begin > expected)
      bad(path, "bytes [" + std::to_string(expected) + ", " + std::to_string(e.begin) +
                    ") of the data section belong to no tensor");
    expected = e.end;
    prev = &e;
  }
  if (expected != data_len)
    bad(path, "the data section has " + std::to_string(data_len) + " bytes but the tensors cover " +
                  std::to_string(expected));

  file.tensors.reserve(entries.size());
  for (auto& e : entries) {
    e.tensor.data.resize(static_cast<std::size_t>(e.end - e.begin));
    in.read_at(data_start + e.begin, e.tensor.data.data(), e.tensor.data.size());
    file.tensors.push_back(std::move(e.tensor));
  }
  return file;
}

namespace {

// The 8-byte length followed by the padded JSON header.
std::string make_header(const SafeTensorsFile& file) {
  Json h = Json::object();
  if (!file.metadata.empty()) {
    Json m = Json::object();
    for (const auto& [k, v] : file.metadata) m[k] = v;
    h["__metadata__"] = std::move(m);
  }
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const auto& t : file.tensors) {
    const std::string where = "safetensors: tensor '" + printable(t.name) + "': ";
    if (t.name == "__metadata__") throw Error(where + "the name is reserved");
    if (!names.insert(t.name).second) throw Error(where + "duplicate name");
    const auto elem = safetensors_element_size(t.dtype);
    if (!elem) throw Error(where + "unknown dtype '" + printable(t.dtype) + "'");
    Json shape = Json::array();
    std::uint64_t numel = 1;
    for (auto d : t.shape) {
      if (d < 0) throw Error(where + "negative dimension " + std::to_string(d));
      numel *= static_cast<std::uint64_t>(d);
      shape.push_back(static_cast<std::uint64_t>(d));
    }
    if (numel * *elem != t.data.size())
      throw Error(where + "has " + std::to_string(t.data.size()) + " bytes of data but its shape " +
                  shape.dump() + " of " + t.dtype + " needs " + std::to_string(numel * *elem));
    Json entry = Json::object();
    entry["dtype"] = t.dtype;
    entry["shape"] = std::move(shape);
    entry["data_offsets"] = Json::array({offset, offset + t.data.size()});
    h[t.name] = std::move(entry);
    offset += t.data.size();
  }
  std::string text;
  try {
    text = h.dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8 in a name or metadata string
    throw Error("safetensors: cannot encode the header: " + printable(e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + text;
}

}  // namespace

std::vector<std::byte> serialize_safetensors(const SafeTensorsFile& file) {
  const std::string header = make_header(file);
  std::vector<std::byte> out(header.size());
  std::memcpy(out.data(), header.data(), header.size());
  for (const auto& t : file.tensors) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

void write_safetensors(const std::string& path, const SafeTensorsFile& file) {
  const std::string header = make_header(file);  // validates before the target is touched
  AtomicFile out(path);
  out.write(header.data(), header.size());
  for (const auto& t : file.tensors) out.write(t.data.data(), t.data.size());
  out.commit();
}

}  // namespace mixtrain::io
