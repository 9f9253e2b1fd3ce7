// Config validation and the precision -> policy mapping.
#include "train/config.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "nn/module.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::train {
namespace {

std::string real_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// The checks of the settings where 0 means "not given" (see config.h): 0 passes, anything else
// must be in range.
void check_optional_int(const std::string& flag, std::int64_t v, std::int64_t lo, std::int64_t hi) {
  if (v != 0) check_int_range(flag, v, lo, hi);
}

}  // namespace

void check_int_range(const std::string& flag, std::int64_t v, std::int64_t lo, std::int64_t hi) {
  if (v < lo || v > hi)
    throw Error(flag + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                std::to_string(v));
}

void check_real_range(const std::string& flag, double v, double lo, double hi, bool lo_open, bool hi_open) {
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (!ok)
    throw Error(flag + " must be a finite number in " + (lo_open ? "(" : "[") + real_text(lo) + ", " + real_text(hi) +
                (hi_open ? ")" : "]") + ", got " + real_text(v));
}

namespace {

// Range checks of every numeric setting (0 = not given where config.h says so).
void check_ranges(const RunSpec& c) {
  check_optional_int("--epochs", c.epochs, 1, kMaxEpochs);
  check_optional_int("--steps", c.steps, 1, kMaxSteps);
  check_optional_int("--batch", c.batch, 1, kMaxBatch);
  if (c.lr != 0) check_real_range("--lr", c.lr, 0, kMaxLr, true);
  check_real_range("--weight-decay", c.weight_decay, 0, kMaxLr);
  check_real_range("momentum", c.momentum, 0, 1, false, true);
  check_real_range("--init-scale", c.init_scale, 0, 1e30, true);
  check_int_range("--growth-interval", c.growth_interval, 1, kMaxSteps);
  check_real_range("--clip", c.clip, 0, 1e30);
  check_real_range("--warmup", c.warmup, 0, 1, false, true);
  check_int_range("--accumulate", c.accumulate, 1, kMaxBatch);
  check_optional_int("--threads", c.threads, 1, runtime::max_threads());
  check_int_range("--context", c.context, 2, kMaxContext);
  if (c.stats_every > 0) check_int_range("--stats-every", c.stats_every, 1, kMaxSteps);
  check_optional_int("--stop-after", c.stop_after, 1, kMaxSteps);
  check_optional_int("eval batches", c.eval_batches, 1, kMaxEvalBatches);
  check_int_range("--auto-every", c.auto_every, 1, kMaxSteps);
  const auto& a = c.auto_options;
  check_real_range("--auto-overflow", a.overflow_threshold, 0, 1, false, true);
  check_real_range("--auto-underflow", a.underflow_threshold, 0, 1, false, true);
  check_real_range("--auto-underflow-forward", a.forward_underflow_threshold, 0, 1, false, true);
  check_int_range("--auto-patience", a.patience, 1, kMaxAutoCount);
  check_int_range("--auto-window", a.stable_window, 1, kMaxAutoCount);
  check_real_range("autopilot demote_margin", a.demote_margin, 0, 1, true);
}

// Precision -> policy (master dtype and map are set by the caller).
amp::Policy policy_for(const RunSpec& c, amp::OptLevel level, bool& autopilot) {
  const PrecisionTraits t = traits(c.precision);
  const std::string p(to_string(t.base));
  switch (t.base) {
    case Precision::fp32:
      if (level != amp::OptLevel::O0) throw Error("--precision fp32 runs at O0; use fp16/bf16 for " + std::string(amp::to_string(level)));
      return amp::Policy::O0();
    case Precision::fp16:
    case Precision::bf16: {
      const DType low = t.base == Precision::fp16 ? DType::fp16 : DType::bf16;
      switch (level) {
        case amp::OptLevel::O0: throw Error("--opt-level O0 is fp32; drop --precision " + p + " or pick O1-O3");
        case amp::OptLevel::O1: return amp::Policy::O1(low);
        case amp::OptLevel::O2: return amp::Policy::O2(low);
        case amp::OptLevel::O3: return amp::Policy::O3(low, t.stochastic);
      }
      break;
    }
    default: {  // fp8 and the autopilot, whose settings are range-checked with the others
      if (c.opt_level && *c.opt_level != amp::OptLevel::O2) throw Error("--precision " + p + " runs at O2 (bf16 + fp8 GEMMs)");
      autopilot = t.base == Precision::autopilot;
      amp::Fp8Options o;
      o.recipe = c.fp8_recipe;
      o.format = c.fp8_format;
      return amp::Policy::FP8(o);
    }
  }
  throw Error("unknown opt level");
}

// Loss scaling: dynamic by default for fp16, none otherwise.
amp::LossScaleOptions scale_for(const RunSpec& c) {
  const PrecisionTraits t = traits(c.precision);
  if (t.noscale && c.loss_scale && c.loss_scale->mode != amp::ScaleMode::disabled)
    throw Error("--precision fp16-noscale contradicts --loss-scale " + to_string(*c.loss_scale));
  const amp::ScaleMode fallback = t.base == Precision::fp16 && !t.noscale ? amp::ScaleMode::dynamic : amp::ScaleMode::disabled;
  const LossScaleSetting ls = c.loss_scale.value_or(LossScaleSetting{fallback, 0});
  amp::LossScaleOptions s;
  s.init_scale = ls.mode == amp::ScaleMode::constant ? ls.value : c.init_scale;
  s.growth_interval = c.growth_interval;
  s.mode = ls.mode;
  return s;
}

}  // namespace

ResolvedRun resolve(const RunSpec& in) {
  ResolvedRun r;
  r.spec = in;
  RunSpec& c = r.spec;
  const bool gpt = c.model == ModelFamily::gpt;
  // gpt's default corpus; the classifiers' one data set (a parsed RunSpec cannot name another).
  if (!c.data || (gpt && c.data == DataSet::fashion_mnist)) c.data = gpt ? DataSet::fortunes : DataSet::fashion_mnist;
  if (!gpt && c.data != DataSet::fashion_mnist)
    throw Error("model '" + std::string(to_string(c.model)) + "' trains on fashion-mnist, not '" + std::string(to_string(*c.data)) + "'");
  if (c.data == DataSet::text && c.data_path.empty()) throw Error("--data text needs --data-path FILE");
  check_ranges(c);
  if (c.epochs > 0 && c.steps > 0) throw Error("--epochs and --steps are mutually exclusive");
  if (c.epochs == 0 && c.steps == 0) c.epochs = 1;
  if (gpt && c.epochs > 0) throw Error("gpt trains for --steps, not --epochs");
  if (c.batch == 0) c.batch = gpt ? 8 : (c.model == ModelFamily::resnet ? 128 : 256);
  if (c.lr == 0) c.lr = c.optimizer == OptimizerKind::sgd ? 0.05 : 1e-3;
  if (c.batch % c.accumulate != 0)
    throw Error("--batch " + std::to_string(c.batch) + " must be divisible by --accumulate " + std::to_string(c.accumulate));

  const amp::OptLevel level = c.opt_level.value_or(traits(c.precision).default_level);
  r.policy = policy_for(c, level, r.autopilot);
  if (c.master == DType::fp64) {
    if (!r.policy.masters()) throw Error("--master fp64 needs master weights (O2 or fp8)");
    r.policy.master = DType::fp64;
  }
  r.policy.map = amp::PrecisionMap::parse(c.precision_map);
  r.scale = scale_for(c);
  // The variants' names already say their level; fp32, fp8 and auto have one level each.
  const std::string name(to_string(c.precision));
  const bool plain = c.precision == Precision::fp16 || c.precision == Precision::bf16;
  r.label = plain ? name + " " + std::string(amp::to_string(level)) : name;
  return r;
}

void check_precision_map(const amp::PrecisionMap& map, nn::Module& model) {
  if (map.empty()) return;
  // The modules (what GEMM rules name) and the parameters (what storage rules may name).
  std::vector<std::string> layers, params;
  for (const nn::Module* m : std::as_const(model).modules())
    if (!m->name().empty()) layers.push_back(m->name());
  for (const auto& p : model.parameters()) params.push_back(p.name);
  map.check_matches(layers, params);
}

}  // namespace mixtrain::train
