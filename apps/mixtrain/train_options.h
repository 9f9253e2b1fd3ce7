// The training flags shared by `train`, `compare` and `bench --model`: CliTrainFlags holds them as
// typed on the command line (the first of the configuration roles listed in train/config.h);
// resolve_flags() parses the named choices into train::RunSpec's enums and resolves it.
//
// Every numeric flag has a documented range (train/config.h) and a value given explicitly is
// checked as given: the flags whose RunSpec field uses 0 for "not given" (epochs, steps,
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

struct CliTrainFlags {
  train::RunSpec spec;  // the flags that are plain values, bound in place
  // The named choices as typed (train/settings.h parses them).
  std::string model, data, precision = "fp32", optimizer = "adamw", loss_scale, master = "fp32";
  std::string fp8_recipe = "delayed", fp8_format = "hybrid", schedule = "cosine";
  std::string opt_level;  // "" or O0..O3
  std::string seed = "0";
  // Explicit values of the flags whose cfg field treats 0 as "not given" (see above).
  std::optional<std::int64_t> epochs, steps, batch, threads, stats_every, stop_after, eval_batches;
  std::optional<double> lr;
};

// Adds the flags; `with_precision` is false for compare (which takes --precisions).
void add_train_flags(CLI::App* cmd, CliTrainFlags& f, bool with_precision);
// Range-checks the explicit values and validates the parsed flags into a resolved config (throws
// mixtrain::Error with one line naming the flag and its range).
train::ResolvedRun resolve_flags(const CliTrainFlags& f);

}  // namespace mixtrain::app
