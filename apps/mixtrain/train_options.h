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
  std::optional<std::int64_t> epochs, steps, batch, threads, stats_every, stop_after, eval_batches, eval_every;
  std::optional<double> lr;
};

// Which of the shared flags a subcommand takes: only those that change what it does.
struct TrainFlagSet {
  bool precision = true;   // --precision (compare takes --precisions instead)
  bool evaluation = true;  // --eval-batches, --eval-every (bench does not evaluate)
  bool stop_after = true;  // --stop-after (train only: it exists to be resumed)
  bool autopilot = true;   // --auto-* (bench times the steps with the autopilot's defaults)
  bool quiet = true;       // --quiet (bench prints only its JSON line anyway)
};

// The help groups of the shared flags, in the order `--help` lists them; subcommands put their own
// flags in these groups too.
inline constexpr const char* kGroupModel = "Model and data";
inline constexpr const char* kGroupPrecision = "Precision";
inline constexpr const char* kGroupLength = "Length, batch and optimizer";
inline constexpr const char* kGroupScaling = "Loss scaling";
inline constexpr const char* kGroupFp8 = "fp8";
inline constexpr const char* kGroupAutopilot = "Precision autopilot (--precision auto)";
inline constexpr const char* kGroupMeasure = "Statistics and evaluation";
inline constexpr const char* kGroupOutput = "Output and checkpoints";
inline constexpr const char* kGroupMachine = "Machine";

// Adds the flags of `which` to `cmd`, each in its help group.
void add_train_flags(CLI::App* cmd, CliTrainFlags& f, const TrainFlagSet& which);
// --eval-every as given (0 when not given); throws mixtrain::Error naming the flag when out of range.
std::int64_t eval_every_or_throw(const CliTrainFlags& f);
// Range-checks the explicit values and validates the parsed flags into a resolved config (throws
// mixtrain::Error with one line naming the flag and its range).
train::ResolvedRun resolve_flags(const CliTrainFlags& f);

}  // namespace mixtrain::app
