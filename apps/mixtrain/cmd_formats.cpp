// `mixtrain formats VALUE...`: how each value is stored in every format, as a table or as JSON
// lines. The encoding and classification come from numerics::inspect().
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "numerics/format.h"
#include "numerics/inspect.h"
#include "numerics/rng.h"
#include "runtime/error.h"

namespace mixtrain::app {
namespace {

struct FormatsArgs {
  std::vector<std::string> values;
  std::string rounding = "nearest";
  std::string overflow;
  std::string seed = "0";  // parsed by parse_seed(): CLI11 would wrap -1 to 2^64-1
  bool json = false;
};

double parse_value(const std::string& s) {
  // strtod accepts decimal, hex floats ("0x1.8p1"), inf and nan; the whole argument must be used.
  // Out-of-range decimals become ±inf or a (sub)normal/zero, as in C.
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(begin, &end);
  if (s.empty() || end == begin || *end != '\0') throw Error("'" + s + "' is not a number");
  return x;
}

std::string number(double v, DType t) {
  if (std::isnan(v)) return std::signbit(v) ? "-nan" : "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, t == DType::fp64 ? "%.17g" : "%.9g", v);
  return buf;
}

std::vector<std::string> flags(const numerics::Inspection& s) {
  std::vector<std::string> f;
  if (s.overflow) f.emplace_back("overflow");
  if (s.saturated) f.emplace_back("saturated");
  if (s.subnormal) f.emplace_back("subnormal");
  if (s.flushed) f.emplace_back("flushed-to-zero");
  if (s.nan) f.emplace_back("nan");
  if (s.inf) f.emplace_back("inf");
  return f;
}

// JSON has no inf/NaN: such numbers are written as the strings "inf", "-inf", "nan".
nlohmann::ordered_json json_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

void run(const FormatsArgs& a) {
  const auto rounding = numerics::parse_rounding(a.rounding);
  if (!rounding)
    throw Error("--rounding: unknown mode '" + a.rounding +
                "' (expected nearest, toward-zero or stochastic)");
  std::optional<numerics::Overflow> overflow;
  if (!a.overflow.empty()) {
    overflow = numerics::parse_overflow(a.overflow);
    if (!overflow)
      throw Error("--overflow: unknown mode '" + a.overflow + "' (expected saturate or inf)");
  }
  const std::uint64_t seed = parse_seed(a.seed);
  std::vector<double> xs;
  for (const auto& v : a.values) xs.push_back(parse_value(v));  // all parsed before any output

  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i];
    // Stochastic rounding draws value i's bits like element i of a buffer conversion.
    const std::uint32_t random = numerics::stochastic_bits(seed, i);
    if (!a.json) {
      std::printf("%s%s = %s\n", i ? "\n" : "", a.values[i].c_str(), number(x, DType::fp64).c_str());
      std::printf("  %-6s %-18s %-66s %-24s %-11s %s\n", "format", "hex",
                  "sign|exponent|mantissa", "decoded", "rel.error", "flags");
    }
    for (DType t : kAllDTypes) {
      const auto s = numerics::inspect(x, t, *rounding, overflow, random);
      const auto fl = flags(s);
      if (a.json) {
        nlohmann::ordered_json j;
        j["value"] = a.values[i];
        j["input"] = json_number(x);
        j["format"] = std::string(name(t));
        j["hex"] = numerics::code_hex(s.code, t);
        j["binary"] = numerics::code_binary(s.code, t);
        j["decoded"] = json_number(s.decoded);
        j["rel_error"] = std::isfinite(x) ? json_number(s.rel_error) : nlohmann::ordered_json();
        j["flags"] = fl;
        std::printf("%s\n", j.dump().c_str());
        continue;
      }
      std::string err = "-";
      if (std::isfinite(x)) {
        char buf[32];
        if (s.rel_error == 0.0)
          err = "0";
        else if (std::isfinite(s.rel_error))
          std::snprintf(buf, sizeof buf, "%+.3e", s.rel_error), err = buf;
        else
          err = number(s.rel_error, t);
      }
      std::string fs;
      for (const auto& f : fl) fs += (fs.empty() ? "" : ",") + f;
      std::printf("  %-6s %-18s %-66s %-24s %-11s %s\n", std::string(name(t)).c_str(),
                  numerics::code_hex(s.code, t).c_str(), numerics::code_binary(s.code, t).c_str(),
                  number(s.decoded, t).c_str(), err.c_str(), fs.empty() ? "-" : fs.c_str());
    }
  }
}

}  // namespace

void register_formats(CLI::App& app) {
  auto args = std::make_shared<FormatsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "formats",
      "Show how each VALUE is stored in fp64 fp32 fp16 bf16 e4m3 e5m2: bits (hex and "
      "sign|exponent|mantissa), decoded value, relative error, flags.");
  cmd->add_option("VALUE", args->values,
                  "numbers as strtod reads them: 3.14159, -1e-5, 0x1.8p1, inf, nan (put `--` "
                  "before values that start with '-')")
      ->required();
  cmd->add_option("--rounding", args->rounding, "nearest (default), toward-zero or stochastic");
  cmd->add_option("--seed", args->seed, "seed of stochastic rounding (value i uses counter i)");
  cmd->add_option("--overflow", args->overflow,
                  "saturate or inf (default: inf for fp16/bf16, saturate for e4m3/e5m2)");
  cmd->add_flag("--json", args->json, "one JSON object per value and format, one per line");
  cmd->callback([args] {
    try {
      run(*args);
    } catch (const Error& e) {
      throw Error(std::string("formats: ") + e.what());
    }
  });
}

}  // namespace mixtrain::app
