// Policy constructors and per-module decisions.
#include "amp/policy.h"

#include "runtime/error.h"

namespace mixtrain::amp {

std::string_view to_string(OptLevel l) {
  switch (l) {
    case OptLevel::O0: return "O0";
    case OptLevel::O1: return "O1";
    case OptLevel::O2: return "O2";
    case OptLevel::O3: return "O3";
  }
  return "?";
}

namespace {
void check_low(DType low) {
  check(low == DType::fp16 || low == DType::bf16, "amp: the low-precision dtype must be fp16 or bf16, got " + std::string(name(low)));
}
}  // namespace

Policy Policy::O0() { return Policy{}; }
Policy Policy::O1(DType low) {
  check_low(low);
  Policy p;
  p.level = OptLevel::O1;
  p.low = low;
  return p;
}
Policy Policy::O2(DType low) {
  Policy p = O1(low);
  p.level = OptLevel::O2;
  return p;
}
Policy Policy::O3(DType low, bool sr) {
  Policy p = O1(low);
  p.level = OptLevel::O3;
  p.stochastic_rounding = sr;
  return p;
}
Policy Policy::FP8(Fp8Options options) {
  Policy p = O2(DType::bf16);
  p.fp8 = true;
  p.fp8_options = options;
  return p;
}

DType Policy::gemm_dtype(const std::string& module) const {
  if (auto d = map.lookup(module)) return *d;
  if (fp8) return fp8_dtype(fp8_options.format, Fp8Role::activation);
  return low;
}

DType Policy::param_dtype(const std::string& param, bool is_norm) const {
  switch (level) {
    case OptLevel::O0:
    case OptLevel::O1: return DType::fp32;
    case OptLevel::O2: {
      if (is_norm) return DType::fp32;
      if (auto d = map.lookup(param)) return numerics::spec(*d).bits() == 8 ? low : *d;
      return low;
    }
    case OptLevel::O3: return low;
  }
  return DType::fp32;
}

std::string Policy::describe() const {
  if (fp8)
    return std::string("fp8 (") + (fp8_options.recipe == Fp8Recipe::delayed ? "delayed" : "current") + ", " +
           (fp8_options.format == Fp8Format::hybrid ? "hybrid" : "e4m3") + ") + bf16 O2";
  if (level == OptLevel::O0) return "fp32 O0";
  std::string s = std::string(name(low)) + " " + std::string(to_string(level));
  if (stochastic_rounding) s += " +stochastic rounding";
  return s;
}

}  // namespace mixtrain::amp
