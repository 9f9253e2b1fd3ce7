// The autopilot's promotion and demotion rule (autopilot.h).
#include "amp/autopilot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/json_text.h"
#include "runtime/error.h"

namespace mixtrain::amp {

std::string_view to_string(Operand o) {
  switch (o) {
    case Operand::input: return "input";
    case Operand::weight: return "weight";
    case Operand::grad: return "grad";
  }
  return "?";
}

OperandFit OperandFit::from(const numerics::FormatStats& s) {
  // NaN/inf inputs count as overflow: a tensor that holds them does not fit any format.
  const double bad = s.fraction(s.nans + s.infs);
  return {s.overflow_fraction() + bad, s.flush_fraction() + s.subnormal_fraction(), s.count > 0};
}

nlohmann::json PrecisionEvent::to_json() const {
  return {{"type", "precision"}, {"step", step}, {"layer", layer},
          {"from", std::string(name(from))}, {"to", std::string(name(to))}, {"reason", reason}};
}

Autopilot::Autopilot(AutopilotOptions options, DType half, std::vector<std::string> layers, Rung lowest)
    : opt_(options), half_(half), lowest_(lowest), order_(std::move(layers)) {
  check(lowest_ == Rung::fp8 || lowest_ == Rung::hybrid, "autopilot: the lowest rung must be fp8 or hybrid");
  check(half_ == DType::bf16 || half_ == DType::fp16, "autopilot: the 16-bit dtype must be bf16 or fp16");
  check(opt_.patience >= 1 && opt_.stable_window >= 1, "autopilot: patience and stable window must be >= 1");
  check(opt_.overflow_threshold >= 0 && opt_.underflow_threshold >= 0 && opt_.forward_underflow_threshold >= 0 &&
            opt_.demote_margin > 0,
        "autopilot: thresholds must be >= 0 and the demotion margin > 0");
  for (const auto& l : order_) layers_.emplace(l, Layer{lowest_, 0, 0, 0});
}

DType Autopilot::dtype(Rung r) const {
  switch (r) {
    case Rung::fp8: return DType::e4m3;    // precision-map marker: fp8, E4M3 everywhere
    case Rung::hybrid: return DType::e5m2; // precision-map marker: fp8 with E5M2 gradients
    case Rung::half: return half_;
    case Rung::fp32: return DType::fp32;
  }
  return DType::fp32;
}

Rung Autopilot::rung(const std::string& layer) const {
  auto it = layers_.find(layer);
  check(it != layers_.end(), "autopilot: unknown layer " + layer);
  return it->second.rung;
}

std::optional<Autopilot::Failure> Autopilot::failure(const std::array<OperandFit, kOperands>& fits, double k) const {
  // The operand furthest past its threshold (relative), so the event names the real cause.
  double worst = 1.0;
  std::optional<std::string> why;
  bool others = false, grad = false;
  char buf[160];
  for (int i = 0; i < kOperands; ++i) {
    const OperandFit& f = fits[static_cast<std::size_t>(i)];
    if (!f.measured) continue;
    const bool is_grad = static_cast<Operand>(i) == Operand::grad;
    const double to = opt_.overflow_threshold * k;
    const double tu = (is_grad ? opt_.underflow_threshold : opt_.forward_underflow_threshold) * k;
    const double ro = f.overflow / std::max(to, 1e-300), ru = f.underflow / std::max(tu, 1e-300);
    const auto op = std::string(to_string(static_cast<Operand>(i)));
    const bool fails = f.overflow > to || f.underflow > tu;
    (static_cast<Operand>(i) == Operand::grad ? grad : others) |= fails;
    if (f.overflow > to && ro >= worst) {
      worst = ro;
      std::snprintf(buf, sizeof buf, "%s overflow %.3g%% > %.3g%%", op.c_str(), 100 * f.overflow, 100 * to);
      why = buf;
    }
    if (f.underflow > tu && ru >= worst) {
      worst = ru;
      std::snprintf(buf, sizeof buf, "%s underflow %.3g%% > %.3g%%", op.c_str(), 100 * f.underflow, 100 * tu);
      why = buf;
    }
  }
  if (!why) return std::nullopt;
  return Failure{*why, grad && !others};
}

std::vector<PrecisionEvent> Autopilot::observe(std::int64_t step, const std::map<std::string, LayerProbe>& probes) {
  std::vector<PrecisionEvent> events;
  for (const auto& [layer, probe] : probes) {
    auto it = layers_.find(layer);
    check(it != layers_.end(), "autopilot: probe for unknown layer " + layer);
    Layer& l = it->second;
    if (auto f = failure(probe.now, 1.0)) {
      l.fit_below = 0;
      if (++l.bad >= opt_.patience && l.rung != top()) {
        // E5M2 only widens the gradient's range: other failures skip the hybrid rung.
        Rung up = static_cast<Rung>(static_cast<int>(l.rung) + 1);
        if (up == Rung::hybrid && !f->gradient_only) up = Rung::half;
        events.push_back({step, layer, dtype(l.rung), dtype(up),
                          f->why + " on " + std::to_string(l.bad) + " consecutive probes"});
        l.rung = up;
        l.bad = 0;
        ++l.promotions;
      }
      continue;
    }
    l.bad = 0;
    if (l.rung == lowest_) continue;
    const bool below_measured = std::any_of(probe.below.begin(), probe.below.end(), [](const OperandFit& f) { return f.measured; });
    if (!below_measured) continue;  // no evidence either way: the streak stands
    if (failure(probe.below, opt_.demote_margin)) {
      l.fit_below = 0;
      continue;
    }
    // The window doubles with every promotion of this layer (capped: 2^10 windows).
    const std::int64_t window = std::int64_t{opt_.stable_window} << std::min(std::max(l.promotions - 1, 0), 10);
    if (++l.fit_below >= window) {
      const Rung down = static_cast<Rung>(static_cast<int>(l.rung) - 1);  // half -> hybrid, hybrid -> fp8
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s fits with margin %.2g on %lld consecutive probes", std::string(mixtrain::name(dtype(down))).c_str(),
                    opt_.demote_margin, static_cast<long long>(l.fit_below));
      events.push_back({step, layer, dtype(l.rung), dtype(down), buf});
      l.rung = down;
      l.fit_below = 0;
    }
  }
  return events;
}

PrecisionMap Autopilot::map() const {
  PrecisionMap m;
  for (const auto& l : order_) m.add(l, dtype(layers_.at(l).rung));
  return m;
}

nlohmann::json Autopilot::state() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, l] : layers_)
    j[name] = {{"rung", static_cast<int>(l.rung)}, {"bad", l.bad}, {"fit_below", l.fit_below}, {"promotions", l.promotions}};
  return j;
}

void Autopilot::restore(const nlohmann::json& j) {
  try {
    for (auto& [name, l] : layers_) {
      if (!j.contains(name)) continue;
      const auto& s = j.at(name);
      const int r = static_cast<int>(io::json_int(s, "rung", 0, 64));
      check(r >= static_cast<int>(lowest_) && r <= static_cast<int>(top()), "autopilot: bad rung " + std::to_string(r) + " for " + name);
      // Counters only ever count probes; anything else (negative, near INT_MAX) is a forged state.
      constexpr std::int64_t kMaxCount = 1 << 30;
      const int bad = static_cast<int>(io::json_int(s, "bad", 0, kMaxCount));
      const int fit_below = static_cast<int>(io::json_int(s, "fit_below", 0, kMaxCount));
      const int promotions = static_cast<int>(io::json_int(s, "promotions", 0, kMaxCount));
      l = {static_cast<Rung>(r), bad, fit_below, promotions};
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("checkpoint: bad autopilot state: ") + e.what());
  } catch (const Error& e) {
    throw Error(std::string("checkpoint: bad autopilot state: ") + e.what());
  }
}

}  // namespace mixtrain::amp
