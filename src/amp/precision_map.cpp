// Glob matching and parsing for the per-layer precision map.
#include "amp/precision_map.h"

#include "runtime/error.h"

namespace mixtrain::amp {

bool glob_match(std::string_view p, std::string_view s) {
  if (p.empty()) return s.empty();
  if (p.starts_with("**")) {
    for (std::size_t i = 0; i <= s.size(); ++i)
      if (glob_match(p.substr(2), s.substr(i))) return true;
    return false;
  }
  if (p[0] == '*') {
    for (std::size_t i = 0; i <= s.size(); ++i) {
      if (glob_match(p.substr(1), s.substr(i))) return true;
      if (i < s.size() && s[i] == '.') break;  // a single star stays within one segment
    }
    return false;
  }
  return !s.empty() && p[0] == s[0] && glob_match(p.substr(1), s.substr(1));
}

std::optional<DType> PrecisionMap::lookup(std::string_view module) const {
  std::optional<DType> result;
  for (const auto& r : rules_) {
    bool hit = glob_match(r.pattern, module);
    for (std::size_t i = 0; !hit && i < module.size(); ++i)
      if (module[i] == '.' && glob_match(r.pattern, module.substr(0, i))) hit = true;
    if (hit) result = r.dtype;
  }
  return result;
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
