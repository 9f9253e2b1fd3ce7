// Config validation and the precision -> policy mapping.
#include "train/config.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
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

ResolvedConfig resolve(const TrainConfig& in) {
  ResolvedConfig r;
  r.cfg = in;
  TrainConfig& c = r.cfg;
  const bool gpt = c.model == "gpt";
  if (c.model != "mlp" && c.model != "cnn" && c.model != "resnet" && !gpt)
    throw Error("unknown model '" + c.model + "' (known: mlp cnn resnet gpt)");
  if (c.data.empty()) c.data = gpt ? "fortunes" : "fashion-mnist";
  if (gpt && c.data == "fashion-mnist") c.data = "fortunes";
  if (!gpt && c.data != "fashion-mnist")
    throw Error("model '" + c.model + "' trains on fashion-mnist, not '" + c.data + "'");
  if (gpt && c.data != "fortunes" && c.data != "text")
    throw Error("unknown data set '" + c.data + "' for gpt (known: fortunes, text with --data-path)");
  if (c.data == "text" && c.data_path.empty()) throw Error("--data text needs --data-path FILE");
  // Ranges first (0 = not given where config.h says so), then defaults, then combinations.
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
  {
    const auto& a = c.auto_options;
    check_real_range("--auto-overflow", a.overflow_threshold, 0, 1, false, true);
    check_real_range("--auto-underflow", a.underflow_threshold, 0, 1, false, true);
    check_real_range("--auto-underflow-forward", a.forward_underflow_threshold, 0, 1, false, true);
    check_int_range("--auto-patience", a.patience, 1, kMaxAutoCount);
    check_int_range("--auto-window", a.stable_window, 1, kMaxAutoCount);
    check_real_range("autopilot demote_margin", a.demote_margin, 0, 1, true);
  }
  if (c.epochs > 0 && c.steps > 0) throw Error("--epochs and --steps are mutually exclusive");
  if (c.epochs == 0 && c.steps == 0) c.epochs = 1;
  if (gpt && c.epochs > 0) throw Error("gpt trains for --steps, not --epochs");
  if (c.batch == 0) c.batch = gpt ? 8 : (c.model == "resnet" ? 128 : 256);
  if (c.optimizer != "sgd" && c.optimizer != "adamw") throw Error("unknown optimizer '" + c.optimizer + "' (known: sgd adamw)");
  if (c.lr == 0) c.lr = c.optimizer == "sgd" ? 0.05 : 1e-3;
  if (c.batch % c.accumulate != 0)
    throw Error("--batch " + std::to_string(c.batch) + " must be divisible by --accumulate " + std::to_string(c.accumulate));
  if (c.schedule != "constant" && c.schedule != "cosine") throw Error("--schedule must be constant or cosine");
  if (c.master != "fp32" && c.master != "fp64") throw Error("--master must be fp32 or fp64");
  if (c.fp8_recipe != "delayed" && c.fp8_recipe != "current") throw Error("--fp8-recipe must be delayed or current");
  if (c.fp8_format != "hybrid" && c.fp8_format != "e4m3") throw Error("--fp8-format must be hybrid or e4m3");

  // Precision -> policy.
  std::string p = c.precision;
  bool noscale = false;
  amp::OptLevel default_level = amp::OptLevel::O2;
  bool sr = false;
  if (p == "fp16-noscale") { p = "fp16"; noscale = true; }
  else if (p == "bf16-O3") { p = "bf16"; default_level = amp::OptLevel::O3; }
  else if (p == "bf16-O3-sr") { p = "bf16"; default_level = amp::OptLevel::O3; sr = true; }
  else if (p == "fp16-O3") { p = "fp16"; default_level = amp::OptLevel::O3; }
  const amp::OptLevel level = c.opt_level.value_or(p == "fp32" ? amp::OptLevel::O0 : default_level);
  if (p == "fp32") {
    if (level != amp::OptLevel::O0) throw Error("--precision fp32 runs at O0; use fp16/bf16 for " + std::string(amp::to_string(level)));
    r.policy = amp::Policy::O0();
  } else if (p == "fp16" || p == "bf16") {
    const DType low = p == "fp16" ? DType::fp16 : DType::bf16;
    switch (level) {
      case amp::OptLevel::O0: throw Error("--opt-level O0 is fp32; drop --precision " + p + " or pick O1-O3");
      case amp::OptLevel::O1: r.policy = amp::Policy::O1(low); break;
      case amp::OptLevel::O2: r.policy = amp::Policy::O2(low); break;
      case amp::OptLevel::O3: r.policy = amp::Policy::O3(low, sr); break;
    }
  } else if (p == "fp8" || p == "auto") {
    if (c.opt_level && *c.opt_level != amp::OptLevel::O2)
      throw Error("--precision " + p + " runs at O2 (bf16 + fp8 GEMMs)");
    if (p == "auto") r.autopilot = true;  // its settings are range-checked above
    amp::Fp8Options o;
    o.recipe = c.fp8_recipe == "delayed" ? amp::Fp8Recipe::delayed : amp::Fp8Recipe::current;
    o.format = c.fp8_format == "hybrid" ? amp::Fp8Format::hybrid : amp::Fp8Format::e4m3;
    r.policy = amp::Policy::FP8(o);
  } else {
    throw Error("unknown precision '" + c.precision + "' (known: fp32 fp16 bf16 fp8 auto fp16-noscale bf16-O3 bf16-O3-sr)");
  }
  if (c.master == "fp64") {
    if (!r.policy.masters()) throw Error("--master fp64 needs master weights (O2 or fp8)");
    r.policy.master = DType::fp64;
  }
  r.policy.map = amp::PrecisionMap::parse(c.precision_map);

  // Loss scaling: dynamic by default for fp16, none otherwise.
  std::string ls = c.loss_scale.empty() ? (p == "fp16" && !noscale ? "dynamic" : "none") : c.loss_scale;
  if (noscale && !c.loss_scale.empty() && c.loss_scale != "none")
    throw Error("--precision fp16-noscale contradicts --loss-scale " + c.loss_scale);
  r.scale.init_scale = c.init_scale;
  r.scale.growth_interval = c.growth_interval;
  if (ls == "dynamic") {
    r.scale.mode = amp::ScaleMode::dynamic;
  } else if (ls == "none") {
    r.scale.mode = amp::ScaleMode::disabled;
  } else {
    char* end = nullptr;
    const double v = std::strtod(ls.c_str(), &end);
    if (end == ls.c_str() || *end != '\0' || !std::isfinite(v) || !(v > 0) || v > 1e30)
      throw Error("--loss-scale must be dynamic, none or a finite number in (0, 1e+30], got '" + ls + "'");
    r.scale.mode = amp::ScaleMode::constant;
    r.scale.init_scale = v;
  }
  r.label = c.precision == "fp32" || c.precision == "fp8" || c.precision == "auto" || c.precision.find('-') != std::string::npos
                ? c.precision
                : c.precision + " " + std::string(amp::to_string(level));
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
