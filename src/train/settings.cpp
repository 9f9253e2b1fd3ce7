// One table per enum: the text of each value is written in one place, so parsing and printing
// cannot drift apart.
#include "train/settings.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "runtime/error.h"

namespace mixtrain::train {
namespace {

template <typename E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<ModelFamily, 4> kModels{{{ModelFamily::mlp, "mlp"}, {ModelFamily::cnn, "cnn"},
                                         {ModelFamily::resnet, "resnet"}, {ModelFamily::gpt, "gpt"}}};
constexpr Names<DataSet, 3> kDataSets{
    {{DataSet::fashion_mnist, "fashion-mnist"}, {DataSet::fortunes, "fortunes"}, {DataSet::text, "text"}}};
constexpr Names<Precision, 9> kPrecisions{{{Precision::fp32, "fp32"},
                                           {Precision::fp16, "fp16"},
                                           {Precision::bf16, "bf16"},
                                           {Precision::fp8, "fp8"},
                                           {Precision::autopilot, "auto"},
                                           {Precision::fp16_noscale, "fp16-noscale"},
                                           {Precision::bf16_O3, "bf16-O3"},
                                           {Precision::bf16_O3_sr, "bf16-O3-sr"},
                                           {Precision::fp16_O3, "fp16-O3"}}};
constexpr Names<OptimizerKind, 2> kOptimizers{{{OptimizerKind::sgd, "sgd"}, {OptimizerKind::adamw, "adamw"}}};
constexpr Names<ScheduleKind, 2> kSchedules{{{ScheduleKind::constant, "constant"}, {ScheduleKind::warmup_cosine, "cosine"}}};
constexpr Names<amp::Fp8Recipe, 2> kRecipes{{{amp::Fp8Recipe::delayed, "delayed"}, {amp::Fp8Recipe::current, "current"}}};
constexpr Names<amp::Fp8Format, 2> kFormats{{{amp::Fp8Format::hybrid, "hybrid"}, {amp::Fp8Format::e4m3, "e4m3"}}};
constexpr Names<amp::OptLevel, 4> kLevels{{{amp::OptLevel::O0, "O0"}, {amp::OptLevel::O1, "O1"},
                                           {amp::OptLevel::O2, "O2"}, {amp::OptLevel::O3, "O3"}}};

template <typename E, std::size_t N>
std::string_view name_in(const Names<E, N>& table, E v) {
  for (const auto& [e, s] : table)
    if (e == v) return s;
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> find_in(const Names<E, N>& table, std::string_view s) {
  for (const auto& [e, text] : table)
    if (text == s) return e;
  return std::nullopt;
}

template <typename E>
E or_throw(std::optional<E> v, const std::string& message) {
  if (!v) throw Error(message);
  return *v;
}

}  // namespace

std::string_view to_string(ModelFamily m) { return name_in(kModels, m); }
std::string_view to_string(DataSet d) { return name_in(kDataSets, d); }
std::string_view to_string(Precision p) { return name_in(kPrecisions, p); }
std::string_view to_string(OptimizerKind o) { return name_in(kOptimizers, o); }
std::string_view to_string(ScheduleKind s) { return name_in(kSchedules, s); }
std::string_view to_string(amp::Fp8Recipe r) { return name_in(kRecipes, r); }
std::string_view to_string(amp::Fp8Format f) { return name_in(kFormats, f); }

std::string to_string(const LossScaleSetting& s) {
  if (s.mode == amp::ScaleMode::dynamic) return "dynamic";
  if (s.mode == amp::ScaleMode::disabled) return "none";
  char b[32];
  std::snprintf(b, sizeof b, "%g", s.value);
  return b;
}

std::optional<ModelFamily> parse_model(std::string_view s) { return find_in(kModels, s); }
std::optional<DataSet> parse_data_set(std::string_view s) { return find_in(kDataSets, s); }
std::optional<Precision> parse_precision(std::string_view s) { return find_in(kPrecisions, s); }
std::optional<OptimizerKind> parse_optimizer(std::string_view s) { return find_in(kOptimizers, s); }
std::optional<ScheduleKind> parse_schedule(std::string_view s) { return find_in(kSchedules, s); }
std::optional<amp::Fp8Recipe> parse_fp8_recipe(std::string_view s) { return find_in(kRecipes, s); }
std::optional<amp::Fp8Format> parse_fp8_format(std::string_view s) { return find_in(kFormats, s); }
std::optional<amp::OptLevel> parse_opt_level(std::string_view s) { return find_in(kLevels, s); }

ModelFamily model_or_throw(const std::string& s) {
  return or_throw(parse_model(s), "unknown model '" + s + "' (known: mlp cnn resnet gpt)");
}

DataSet data_set_or_throw(const std::string& s, ModelFamily model) {
  const auto d = parse_data_set(s);
  // A classifier names the one data set it trains on; gpt names the corpora it knows.
  if (model != ModelFamily::gpt && d != DataSet::fashion_mnist)
    throw Error("model '" + std::string(to_string(model)) + "' trains on fashion-mnist, not '" + s + "'");
  if (model == ModelFamily::gpt && !d) throw Error("unknown data set '" + s + "' for gpt (known: fortunes, text with --data-path)");
  return *d;
}

Precision precision_or_throw(const std::string& s) {
  return or_throw(parse_precision(s),
                  "unknown precision '" + s + "' (known: fp32 fp16 bf16 fp8 auto fp16-noscale bf16-O3 bf16-O3-sr)");
}
OptimizerKind optimizer_or_throw(const std::string& s) {
  return or_throw(parse_optimizer(s), "unknown optimizer '" + s + "' (known: sgd adamw)");
}
ScheduleKind schedule_or_throw(const std::string& s) {
  return or_throw(parse_schedule(s), "--schedule must be constant or cosine");
}
DType master_or_throw(const std::string& s) {
  const auto t = numerics::parse_dtype(s);
  return or_throw(t == DType::fp32 || t == DType::fp64 ? t : std::nullopt, "--master must be fp32 or fp64");
}
amp::Fp8Recipe fp8_recipe_or_throw(const std::string& s) {
  return or_throw(parse_fp8_recipe(s), "--fp8-recipe must be delayed or current");
}
amp::Fp8Format fp8_format_or_throw(const std::string& s) {
  return or_throw(parse_fp8_format(s), "--fp8-format must be hybrid or e4m3");
}
amp::OptLevel opt_level_or_throw(const std::string& s) {
  return or_throw(parse_opt_level(s), "--opt-level must be O0, O1, O2 or O3, got '" + s + "'");
}

LossScaleSetting loss_scale_or_throw(const std::string& s) {
  if (s == "dynamic") return {amp::ScaleMode::dynamic, 0};
  if (s == "none") return {amp::ScaleMode::disabled, 0};
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(v) || !(v > 0) || v > 1e30)
    throw Error("--loss-scale must be dynamic, none or a finite number in (0, 1e+30], got '" + s + "'");
  return {amp::ScaleMode::constant, v};
}

PrecisionTraits traits(Precision p) {
  using P = Precision;
  switch (p) {
    case P::fp16_noscale: return {P::fp16, amp::OptLevel::O2, true, false};
    case P::bf16_O3: return {P::bf16, amp::OptLevel::O3, false, false};
    case P::bf16_O3_sr: return {P::bf16, amp::OptLevel::O3, false, true};
    case P::fp16_O3: return {P::fp16, amp::OptLevel::O3, false, false};
    case P::fp32: return {P::fp32, amp::OptLevel::O0, false, false};
    default: return {p, amp::OptLevel::O2, false, false};
  }
}

}  // namespace mixtrain::train
