// The training flags shared by `train`, `compare` and `bench --model`, bound to a TrainConfig.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "train/config.h"

namespace mixtrain::app {

struct TrainFlags {
  train::TrainConfig cfg;
  std::string opt_level;  // "" or O0..O3
  std::string seed = "0";
};

// Adds the flags; `with_precision` is false for compare (which takes --precisions).
void add_train_flags(CLI::App* cmd, TrainFlags& f, bool with_precision);
// Validates the parsed flags into a resolved config (throws mixtrain::Error).
train::ResolvedConfig resolve_flags(const TrainFlags& f);

}  // namespace mixtrain::app
