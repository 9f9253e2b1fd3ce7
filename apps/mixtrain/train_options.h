// The training flags shared by `train`, `compare` and `bench --model`, bound to a TrainConfig.
//
// Every numeric flag has a documented range (train/config.h) and a value given explicitly is
// checked as given: the flags whose TrainConfig field uses 0 for "not given" (epochs, steps,
// batch, lr, threads, stats-every, stop-after) are bound to std::optional here, so `--batch 0`
// is "--batch must be an integer in [1, 1048576], got 0", never the default batch.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "train/config.h"

namespace mixtrain::app {

struct TrainFlags {
  train::TrainConfig cfg;
  std::string opt_level;  // "" or O0..O3
  std::string seed = "0";
  // Explicit values of the flags whose cfg field treats 0 as "not given" (see above).
  std::optional<std::int64_t> epochs, steps, batch, threads, stats_every, stop_after;
  std::optional<double> lr;
};

// Adds the flags; `with_precision` is false for compare (which takes --precisions).
void add_train_flags(CLI::App* cmd, TrainFlags& f, bool with_precision);
// Range-checks the explicit values and validates the parsed flags into a resolved config (throws
// mixtrain::Error with one line naming the flag and its range).
train::ResolvedConfig resolve_flags(const TrainFlags& f);

}  // namespace mixtrain::app
