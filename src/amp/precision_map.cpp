// Glob matching and parsing for the per-layer precision map.
#include "amp/precision_map.h"

#include <algorithm>

#include "runtime/error.h"

namespace mixtrain::amp {

// Dynamic programming over (pattern token, name position), so that no pattern (however many
// stars it has) costs more than |pattern| x |name| steps. Tokens: "**", "*", or one literal char.
bool glob_match(std::string_view p, std::string_view s) {
  enum : char { kAny = 1, kSegment = 2, kLiteral = 3 };
  std::vector<std::pair<char, char>> tokens;  // (kind, literal)
  for (std::size_t i = 0; i < p.size();) {
    if (p.substr(i, 2) == "**") {
      tokens.push_back({kAny, 0});
      i += 2;
    } else if (p[i] == '*') {
      tokens.push_back({kSegment, 0});
      ++i;
    } else {
      tokens.push_back({kLiteral, p[i]});
      ++i;
    }
  }
  const std::size_t n = s.size();
  // next[j]: tokens[i+1..] match s[j..]; cur[j]: tokens[i..] match s[j..].
  std::vector<char> next(n + 1, 0), cur(n + 1, 0);
  next[n] = 1;
  for (std::size_t i = tokens.size(); i-- > 0;) {
    const auto [kind, c] = tokens[i];
    for (std::size_t j = n + 1; j-- > 0;) {
      if (kind == kLiteral) cur[j] = j < n && s[j] == c && next[j + 1];
      else if (kind == kAny) cur[j] = next[j] || (j < n && cur[j + 1]);
      else cur[j] = next[j] || (j < n && s[j] != '.' && cur[j + 1]);
    }
    std::swap(cur, next);
  }
  return next[0] != 0;
}

bool PrecisionMap::covers(std::string_view pattern, std::string_view module) {
  if (glob_match(pattern, module)) return true;
  for (std::size_t i = 0; i < module.size(); ++i)
    if (module[i] == '.' && glob_match(pattern, module.substr(0, i))) return true;
  return false;
}

std::optional<DType> PrecisionMap::lookup(std::string_view module) const {
  std::optional<DType> result;
  for (const auto& r : rules_)
    if (covers(r.pattern, module)) result = r.dtype;
  return result;
}

void PrecisionMap::check_matches(const std::vector<std::string>& layers, const std::vector<std::string>& params) const {
  for (const auto& r : rules_) {
    auto hit = [&](const std::string& name) { return covers(r.pattern, name); };
    if (std::any_of(layers.begin(), layers.end(), hit) || std::any_of(params.begin(), params.end(), hit)) continue;
    // The model's layers, with numbered blocks folded ("blocks.0.attn", "blocks.1.attn" ->
    // "blocks.*.attn", which is also the pattern that names them all), shortened to the first
    // ones when the list is still long.
    std::vector<std::string> shown;
    for (const auto& l : layers) {
      std::string folded;
      for (std::size_t start = 0;;) {
        const std::size_t dot = l.find('.', start);
        const std::string seg = l.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        const bool number = !seg.empty() && seg.find_first_not_of("0123456789") == std::string::npos;
        folded += (start > 0 ? "." : "") + (number ? std::string("*") : seg);
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      if (std::find(shown.begin(), shown.end(), folded) == shown.end()) shown.push_back(folded);
    }
    constexpr std::size_t kShown = 16;
    std::string list;
    for (std::size_t i = 0; i < shown.size() && i < kShown; ++i) list += (i ? ", " : "") + shown[i];
    if (shown.size() > kShown) list += ", ... (" + std::to_string(shown.size() - kShown) + " more)";
    if (shown.empty()) list = "none";
    throw Error("precision map: pattern '" + r.pattern + "' (in '" + r.pattern + "=" + std::string(name(r.dtype)) +
                "') matches no layer of the model; its layers: " + list);
  }
}

PrecisionMap PrecisionMap::parse(std::string_view spec) {
  PrecisionMap m;
  while (!spec.empty()) {
    const auto comma = spec.find(',');
    const std::string_view entry = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == entry.size())
      throw Error("precision map: malformed entry '" + std::string(entry) + "' (want pattern=dtype)");
    const auto dtype = numerics::parse_dtype(entry.substr(eq + 1));
    if (!dtype)
      throw Error("precision map: unknown dtype '" + std::string(entry.substr(eq + 1)) + "' in '" +
                  std::string(entry) + "' (known: " + numerics::dtype_names() + ")");
    m.add(std::string(entry.substr(0, eq)), *dtype);
  }
  return m;
}

std::string PrecisionMap::to_string() const {
  std::string s;
  for (const auto& r : rules_) {
    if (!s.empty()) s += ',';
    s += r.pattern + "=" + std::string(name(r.dtype));
  }
  return s;
}

}  // namespace mixtrain::amp
