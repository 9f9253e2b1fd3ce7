// Per-layer precision map: glob patterns on module names -> dtype, e.g.
// "head=fp32,blocks.*.attn=bf16". It overrides the opt level for the modules it names.
//
// Matching: `*` matches any characters except '.', `**` matches anything. A rule applies to a
// module whose name it matches, and to that module's children (a match of a prefix that ends at
// a '.' boundary): `blocks.*.attn` covers `blocks.0.attn.qkv`. When several rules match, the
// last one written wins, so general rules go first and exceptions after.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "numerics/format.h"

namespace mixtrain::amp {

struct PrecisionRule {
  std::string pattern;
  DType dtype;
};

class PrecisionMap {
 public:
  PrecisionMap() = default;
  // Parses "pat=dtype[,pat=dtype...]"; throws mixtrain::Error on a malformed entry or unknown
  // dtype (the message names the entry). An empty string is an empty map.
  static PrecisionMap parse(std::string_view spec);

  void add(std::string pattern, DType dtype) { rules_.push_back({std::move(pattern), dtype}); }
  // The dtype the map assigns to `module`, if any rule matches.
  std::optional<DType> lookup(std::string_view module) const;
  const std::vector<PrecisionRule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }
  // Back to the "pat=dtype,..." form (parse(to_string()) is the same map).
  std::string to_string() const;
  // True when `pattern` names `module` or one of its '.'-prefixes (the rule lookup() applies).
  static bool covers(std::string_view pattern, std::string_view module);
  // Checks the map against a model: every rule's pattern must cover (as lookup() matches) at
  // least one of `layers` (the model's module names) or `params` (its parameter names), else
  // throws mixtrain::Error naming the pattern and listing the layers (the first few when there
  // are many): a misspelt layer name must not silently change nothing.
  void check_matches(const std::vector<std::string>& layers, const std::vector<std::string>& params = {}) const;

 private:
  std::vector<PrecisionRule> rules_;
};

// True when `pattern` matches `name` exactly under the glob rules above (no prefix rule).
bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace mixtrain::amp
