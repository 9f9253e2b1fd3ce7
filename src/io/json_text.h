// Parsing JSON that comes from files a user hands us (safetensors headers, checkpoint metadata,
// metrics lines, summaries, model configs). nlohmann's parser and dump() recurse once per
// nesting level, so a document nested a few hundred thousand levels deep overflows the stack:
// every such text is first scanned without recursion and refused beyond kMaxJsonDepth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mixtrain::io {

// Far deeper than anything mixtrain writes (metrics lines nest 4 levels), far shallower than
// what the recursive parser survives on a default thread stack.
inline constexpr std::size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays/objects in `text` (brackets inside strings do not count). Linear
// time, no recursion; stops counting at `limit` + 1.
std::size_t json_depth(std::string_view text, std::size_t limit = kMaxJsonDepth);

// Parses `text`; throws mixtrain::Error "WHERE: not valid JSON (...)" or "WHERE: JSON nested
// deeper than 64 levels" (one line) instead of crashing or throwing nlohmann's exceptions.
nlohmann::json parse_json(std::string_view text, const std::string& where);

// The same, but nullopt-like: returns a discarded value (is_discarded()) instead of throwing.
nlohmann::json try_parse_json(std::string_view text);

// The integer at j[key], which must be a JSON integer (not a float: converting 1e300 to an integer
// is undefined behaviour) within [lo, hi]; throws mixtrain::Error "'KEY' ..." otherwise.
std::int64_t json_int(const nlohmann::json& j, const std::string& key, std::int64_t lo, std::int64_t hi);

// A message fragment safe to put on one line: control characters replaced, cut at max_len.
std::string printable(std::string_view s, std::size_t max_len = 200);

}  // namespace mixtrain::io
