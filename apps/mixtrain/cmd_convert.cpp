// `mixtrain convert`: argument parsing and the one-line summary; the conversion itself is
// io::convert_file().
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "io/convert_file.h"
#include "numerics/format.h"
#include "runtime/error.h"

namespace mixtrain::app {
namespace {

struct ConvertArgs {
  std::string from;
  std::string to;
  std::string rounding = "nearest";
  std::string overflow;
  std::string seed = "0";  // parsed by parse_seed(): CLI11 would wrap -1 to 2^64-1
  double scale = 1.0;
  std::string in;
  std::string out;
};

const char* kDTypeHelp =
    "fp64 fp32 fp16 bf16 e4m3 e5m2 (aliases float64 float32 float16 half bfloat16 "
    "float8_e4m3fn float8_e5m2)";

DType dtype_arg(const std::string& s, const char* flag) {
  const auto t = numerics::parse_dtype(s);
  if (!t)
    throw Error(std::string(flag) + ": unknown dtype '" + s + "' (expected one of " +
                numerics::dtype_names() + " or an alias)");
  return *t;
}

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void run(const ConvertArgs& a) {
  io::ConvertFileOptions opt;
  if (!a.from.empty()) opt.from = dtype_arg(a.from, "--from");
  opt.to = dtype_arg(a.to, "--to");
  const auto rounding = numerics::parse_rounding(a.rounding);
  if (!rounding)
    throw Error("--rounding: unknown mode '" + a.rounding +
                "' (expected nearest, toward-zero or stochastic)");
  opt.convert.rounding = *rounding;
  if (!a.overflow.empty()) {
    const auto o = numerics::parse_overflow(a.overflow);
    if (!o) throw Error("--overflow: unknown mode '" + a.overflow + "' (expected saturate or inf)");
    opt.convert.overflow = *o;
  }
  opt.convert.seed = parse_seed(a.seed);
  opt.convert.scale = a.scale;

  const io::ConvertSummary s = io::convert_file(a.in, a.out, opt);

  const auto& to = numerics::spec(opt.to);
  const std::string mode =
      std::string(numerics::to_string(opt.convert.rounding)) + ", overflow " +
      std::string(numerics::to_string(opt.convert.overflow.value_or(to.default_overflow))) +
      (a.scale != 1.0 ? ", scale " + format_double(a.scale) : std::string());
  std::string what;
  if (s.safetensors)
    what = std::to_string(s.tensors_converted) + " floating tensors (" +
           std::to_string(s.elements) + " elements) -> " + std::string(to.name) + ", " +
           std::to_string(s.tensors_copied) + " other tensors copied";
  else
    what = std::to_string(s.elements) + " elements " +
           std::string(name(opt.from.value_or(DType::fp32))) + " -> " + std::string(to.name);
  std::printf("%s -> %s: %s (%s): amax %.9g, %llu beyond +-%.9g, %llu flushed to zero, %llu inf/nan\n",
              a.in.c_str(), a.out.c_str(), what.c_str(), mode.c_str(), s.amax,
              static_cast<unsigned long long>(s.out_of_range), numerics::max_value(to),
              static_cast<unsigned long long>(s.flushed),
              static_cast<unsigned long long>(s.nonfinite_out));
}

}  // namespace

void register_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Convert a raw little-endian array or a .safetensors file (every floating tensor) to "
      "another format. OUT is written atomically.");
  cmd->add_option("--from", args->from,
                  std::string("format of a raw IN (default fp32); for .safetensors, a check that "
                              "every floating tensor has it: ") + kDTypeHelp);
  cmd->add_option("--to", args->to, std::string("target format: ") + kDTypeHelp)->required();
  cmd->add_option("--rounding", args->rounding, "nearest (default), toward-zero or stochastic");
  cmd->add_option("--seed", args->seed, "seed of stochastic rounding (default 0)");
  cmd->add_option("--overflow", args->overflow,
                  "saturate or inf (default: inf for fp16/bf16, saturate for e4m3/e5m2)");
  cmd->add_option("--scale", args->scale, "multiply every value by S before encoding (default 1)");
  cmd->add_option("IN", args->in, "input: raw array, or a file ending in .safetensors")->required();
  cmd->add_option("OUT", args->out, "output file (same kind as IN)")->required();
  cmd->callback([args] {
    try {
      run(*args);
    } catch (const Error& e) {
      throw Error(std::string("convert: ") + e.what());
    }
  });
}

}  // namespace mixtrain::app
