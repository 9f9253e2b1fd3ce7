// Config validation and the precision -> policy mapping.
#include "train/config.h"

#include <cstdlib>

#include "runtime/error.h"

namespace mixtrain::train {

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
  if (c.epochs > 0 && c.steps > 0) throw Error("--epochs and --steps are mutually exclusive");
  if (c.epochs < 0 || c.steps < 0) throw Error("--epochs and --steps must be positive");
  if (c.epochs == 0 && c.steps == 0) c.epochs = 1;
  if (gpt && c.epochs > 0) throw Error("gpt trains for --steps, not --epochs");
  if (c.batch == 0) c.batch = gpt ? 8 : (c.model == "resnet" ? 128 : 256);
  if (c.batch < 0) throw Error("--batch must be positive");
  if (c.lr == 0) c.lr = c.optimizer == "sgd" ? 0.05 : 1e-3;
  if (!(c.lr > 0) || c.lr > 1e6) throw Error("--lr must be a positive number");
  if (c.optimizer != "sgd" && c.optimizer != "adamw") throw Error("unknown optimizer '" + c.optimizer + "' (known: sgd adamw)");
  if (c.stop_after < 0) throw Error("--stop-after must be positive");
  if (c.accumulate < 1) throw Error("--accumulate must be >= 1");
  if (c.batch % c.accumulate != 0) throw Error("--batch must be divisible by --accumulate");
  if (c.clip < 0) throw Error("--clip must be >= 0");
  if (c.schedule != "constant" && c.schedule != "cosine") throw Error("--schedule must be constant or cosine");
  if (!(c.warmup >= 0 && c.warmup < 1)) throw Error("--warmup must be a fraction in [0, 1)");
  if (c.master != "fp32" && c.master != "fp64") throw Error("--master must be fp32 or fp64");
  if (c.fp8_recipe != "delayed" && c.fp8_recipe != "current") throw Error("--fp8-recipe must be delayed or current");
  if (c.fp8_format != "hybrid" && c.fp8_format != "e4m3") throw Error("--fp8-format must be hybrid or e4m3");
  if (c.context < 2 || c.context > 4096) throw Error("--context must be in [2, 4096]");

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
    if (p == "auto") {
      r.autopilot = true;
      if (c.auto_every < 1) throw Error("--auto-every must be >= 1");
      const auto& a = c.auto_options;
      auto fraction = [](double f) { return f >= 0 && f < 1; };
      if (!fraction(a.overflow_threshold) || !fraction(a.underflow_threshold) || !fraction(a.forward_underflow_threshold))
        throw Error("--auto-overflow, --auto-underflow and --auto-underflow-forward must be fractions in [0, 1)");
      if (a.patience < 1 || a.stable_window < 1) throw Error("--auto-patience and --auto-window must be >= 1");
    }
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
  if (!(c.init_scale > 0)) throw Error("--init-scale must be positive");
  if (ls == "dynamic") {
    r.scale.mode = amp::ScaleMode::dynamic;
  } else if (ls == "none") {
    r.scale.mode = amp::ScaleMode::disabled;
  } else {
    char* end = nullptr;
    const double v = std::strtod(ls.c_str(), &end);
    if (end == ls.c_str() || *end != '\0' || !(v > 0) || v > 1e30)
      throw Error("--loss-scale must be dynamic, none or a positive number, got '" + ls + "'");
    r.scale.mode = amp::ScaleMode::constant;
    r.scale.init_scale = v;
  }
  r.label = c.precision == "fp32" || c.precision == "fp8" || c.precision == "auto" || c.precision.find('-') != std::string::npos
                ? c.precision
                : c.precision + " " + std::string(amp::to_string(level));
  return r;
}

}  // namespace mixtrain::train
