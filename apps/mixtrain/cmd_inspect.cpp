// `mixtrain inspect FILE.safetensors`: per tensor, dtype, shape, min/max/mean/amax, and the
// fraction of values outside each low-precision format's normal range (overflow or below the
// smallest normal), the question "can this tensor live in format X?".
#include <cmath>
#include <cstdio>

#include "commands.h"
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "tensor/tensor.h"
#include "numerics/convert.h"
#include "numerics/stats.h"

namespace mixtrain::app {

void register_inspect(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("inspect", "Statistics of every tensor of a safetensors file");
  cmd->add_option("FILE", *file, "a .safetensors file")->required();
  cmd->add_flag("--json", *json, "one JSON object per tensor");
  cmd->callback([=] {
    const io::SafeTensorsFile f = io::read_safetensors(*file);
    constexpr DType kFormats[] = {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2};
    if (!*json)
      std::printf("%-40s %-6s %-16s %12s %12s %12s %12s  %s\n", "tensor", "dtype", "shape", "min", "max", "mean", "amax",
                  "outside normal range: fp16 bf16 e4m3 e5m2");
    for (const auto& t : f.tensors) {
      nlohmann::ordered_json j{{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}};
      const auto dt = t.float_dtype();
      std::vector<float> v;
      if (dt) {
        v.resize(t.numel());
        numerics::decode(v.data(), t.data.data(), *dt, v.size());
      }
      double mn = INFINITY, mx = -INFINITY, sum = 0, amax = 0;
      for (float x : v) {
        mn = std::min<double>(mn, x);
        mx = std::max<double>(mx, x);
        sum += x;
        amax = std::max<double>(amax, std::abs(x));
      }
      std::string outside;
      if (dt && !v.empty()) {
        j["min"] = mn;
        j["max"] = mx;
        j["mean"] = sum / static_cast<double>(v.size());
        j["amax"] = amax;
        for (DType fmt : kFormats) {
          const auto s = numerics::analyse(v.data(), v.size(), fmt);
          // Outside the normal range: overflow, subnormal or flushed (zeros are representable).
          const double frac = s.fraction(s.overflow + s.subnormal + s.flush + s.infs + s.nans);
          j["outside_" + std::string(name(fmt))] = frac;
          char b[16];
          std::snprintf(b, sizeof b, " %5.1f%%", 100 * frac);
          outside += b;
        }
      }
      if (*json) {
        std::printf("%s\n", j.dump().c_str());
      } else if (dt && !v.empty()) {
        std::printf("%-40s %-6s %-16s %12.4g %12.4g %12.4g %12.4g %s\n", t.name.c_str(), t.dtype.c_str(),
                    to_string(t.shape).c_str(), mn, mx, sum / static_cast<double>(v.size()), amax, outside.c_str());
      } else {
        std::printf("%-40s %-6s %-16s\n", t.name.c_str(), t.dtype.c_str(), to_string(t.shape).c_str());
      }
    }
  });
}

}  // namespace mixtrain::app
