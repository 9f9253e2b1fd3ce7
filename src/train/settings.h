// The named choices of a run (model, data set, precision, optimizer, schedule, fp8 recipe and
// format, master dtype, opt level, loss scale) as enums: each is parsed from its text once, where
// it enters (a flag, a checkpoint's config), and compared as an enum everywhere after. to_string
// gives back the exact text that was parsed, which is what metrics, summaries and checkpoints
// record, so their bytes do not depend on this representation.
//
// Enums that exist in a lower layer are reused: amp::OptLevel, amp::Fp8Recipe, amp::Fp8Format,
// amp::ScaleMode, optim::LrSchedule::Kind and DType (master weights).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "amp/fp8_scaling.h"
#include "amp/loss_scale.h"
#include "amp/policy.h"
#include "numerics/format.h"
#include "optim/lr_schedule.h"

namespace mixtrain::train {

enum class ModelFamily { mlp, cnn, resnet, gpt };
enum class DataSet { fashion_mnist, fortunes, text };
// --precision: the four formats, the autopilot, and the comparison variants that fix an opt
// level or turn loss scaling off.
enum class Precision { fp32, fp16, bf16, fp8, autopilot, fp16_noscale, bf16_O3, bf16_O3_sr, fp16_O3 };
enum class OptimizerKind { sgd, adamw };
using ScheduleKind = optim::LrSchedule::Kind;

// --loss-scale: dynamic, none or a value; unset means the precision's default (dynamic for fp16).
struct LossScaleSetting {
  amp::ScaleMode mode = amp::ScaleMode::dynamic;
  double value = 0;  // ScaleMode::constant only
};

std::string_view to_string(ModelFamily m);
std::string_view to_string(DataSet d);
std::string_view to_string(Precision p);
std::string_view to_string(OptimizerKind o);
std::string_view to_string(ScheduleKind s);  // "constant" | "cosine"
std::string_view to_string(amp::Fp8Recipe r);
std::string_view to_string(amp::Fp8Format f);
std::string to_string(const LossScaleSetting& s);  // "dynamic" | "none" | "%g" of the value

// Parsers: nullopt for text that names nothing (the caller words the error, which depends on
// where the text came from).
std::optional<ModelFamily> parse_model(std::string_view s);
std::optional<DataSet> parse_data_set(std::string_view s);
std::optional<Precision> parse_precision(std::string_view s);
std::optional<OptimizerKind> parse_optimizer(std::string_view s);
std::optional<ScheduleKind> parse_schedule(std::string_view s);
std::optional<amp::Fp8Recipe> parse_fp8_recipe(std::string_view s);
std::optional<amp::Fp8Format> parse_fp8_format(std::string_view s);
std::optional<amp::OptLevel> parse_opt_level(std::string_view s);

// The parsers that throw mixtrain::Error with the one-line message of the flag, e.g.
// "unknown optimizer 'x' (known: sgd adamw)". The data set's message names the model.
ModelFamily model_or_throw(const std::string& s);
DataSet data_set_or_throw(const std::string& s, ModelFamily model);
Precision precision_or_throw(const std::string& s);
OptimizerKind optimizer_or_throw(const std::string& s);
ScheduleKind schedule_or_throw(const std::string& s);
DType master_or_throw(const std::string& s);
amp::Fp8Recipe fp8_recipe_or_throw(const std::string& s);
amp::Fp8Format fp8_format_or_throw(const std::string& s);
amp::OptLevel opt_level_or_throw(const std::string& s);
LossScaleSetting loss_scale_or_throw(const std::string& s);

// What a --precision means apart from its format: the format itself, the opt level it runs at
// unless --opt-level says otherwise, and the variants' switches.
struct PrecisionTraits {
  Precision base = Precision::fp32;  // fp32 fp16 bf16 fp8 autopilot
  amp::OptLevel default_level = amp::OptLevel::O2;
  bool noscale = false;        // fp16-noscale: no loss scaling
  bool stochastic = false;     // bf16-O3-sr: stochastic rounding of the updates
};
PrecisionTraits traits(Precision p);

}  // namespace mixtrain::train
