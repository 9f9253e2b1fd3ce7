// FP8 scaling: scale from amax and the delayed-recipe history.
#include "amp/fp8_scaling.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace mixtrain::amp {

DType fp8_dtype(Fp8Format f, Fp8Role role) {
  return f == Fp8Format::hybrid && role == Fp8Role::gradient ? DType::e5m2 : DType::e4m3;
}

float scale_from_amax(float amax, DType fp8, int margin, float fallback) {
  if (!(amax > 0.0f) || !std::isfinite(amax)) return fallback;
  const double s = numerics::max_value(numerics::spec(fp8)) / static_cast<double>(amax) / std::ldexp(1.0, margin);
  // A scale that overflows fp32 (amax tiny) is clamped rather than becoming inf.
  return static_cast<float>(std::min(s, static_cast<double>(3.0e38f)));
}

Fp8ScalingState::Fp8ScalingState(const Fp8Options& opt, Fp8Role role)
    : opt_(opt), dtype_(fp8_dtype(opt.format, role)) {
  check(opt.history_len >= 1, "fp8: amax history length must be >= 1");
}

float Fp8ScalingState::scale_for(float current_amax) const {
  if (opt_.recipe == Fp8Recipe::current) return scale_from_amax(current_amax, dtype_, opt_.margin, 1.0f);
  return scale_;
}

void Fp8ScalingState::record(float amax) {
  if (opt_.recipe != Fp8Recipe::delayed) return;
  history_.push_back(amax);
  while (static_cast<int>(history_.size()) > opt_.history_len) history_.pop_front();
  scale_ = scale_from_amax(history_amax(), dtype_, opt_.margin, scale_);
}

float Fp8ScalingState::history_amax() const {
  if (opt_.algo == AmaxAlgo::most_recent) return history_.back();
  float a = 0.0f;
  for (float v : history_)
    if (std::isfinite(v)) a = std::max(a, v);
  return a;
}

void Fp8ScalingState::set_dtype(DType fp8) {
  check(numerics::spec(fp8).bits() == 8, "fp8: set_dtype needs an 8-bit format");
  if (fp8 == dtype_) return;
  dtype_ = fp8;
  if (opt_.recipe != Fp8Recipe::delayed || history_.empty()) return;
  scale_ = scale_from_amax(history_amax(), dtype_, opt_.margin, scale_);
}

void Fp8ScalingState::restore(float scale, std::vector<float> history) {
  // Restored state is input: a zero or non-finite scale would make every cast inf/NaN.
  check(std::isfinite(scale) && scale > 0, "fp8 state: scale must be a positive finite number, got " + std::to_string(scale));
  check(history.size() <= static_cast<std::size_t>(std::max(opt_.history_len, 1)),
        "fp8 state: amax history has " + std::to_string(history.size()) + " entries, more than its length " +
            std::to_string(opt_.history_len));
  for (const float a : history) check(std::isfinite(a) && a >= 0, "fp8 state: amax history holds " + std::to_string(a));
  scale_ = scale;
  history_.assign(history.begin(), history.end());
}

}  // namespace mixtrain::amp
