// Depth scan + parse. The scan only needs to track strings (with escapes) and brackets: the
// parser that follows does the real validation.
#include "io/json_text.h"

#include "runtime/error.h"

namespace mixtrain::io {

std::size_t json_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string printable(std::string_view s, std::size_t max_len) {
  std::string out;
  for (const char c : s.substr(0, max_len)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? '?' : c;
  }
  if (s.size() > max_len) out += "...";
  return out;
}

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  if (json_depth(text) > kMaxJsonDepth)
    throw Error(where + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": not valid JSON (" + printable(e.what()) + ")");
  }
}

nlohmann::json try_parse_json(std::string_view text) {
  if (json_depth(text) > kMaxJsonDepth) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, false);
}

std::int64_t json_int(const nlohmann::json& j, const std::string& key, std::int64_t lo, std::int64_t hi) {
  const auto it = j.is_object() ? j.find(key) : j.end();
  if (it == j.end()) throw Error("'" + key + "' is missing");
  if (!it->is_number_integer()) throw Error("'" + key + "' is not an integer");
  const bool too_big = it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(hi);
  const std::int64_t v = too_big ? hi : it->get<std::int64_t>();
  if (too_big || v < lo || v > hi)
    throw Error("'" + key + "' " + printable(it->dump(), 40) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

}  // namespace mixtrain::io
