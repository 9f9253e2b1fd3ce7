// The configuration types, one per role, from the command line to the running loop:
//   app::CliTrainFlags (apps/mixtrain/train_options.h)  the flags as typed: text and "given or not";
//                       parsed into
//   RunSpec             the user's request, every named choice an enum (train/settings.h), every
//                       number range-checked by resolve(); also what `eval` rebuilds from a
//                       checkpoint's config;
//   ResolvedRun         what resolve() derived from a RunSpec: defaults filled, the precision policy,
//                       loss-scale options and the run's label;
//   RunControls         (train/trainer.h) how a caller drives the loop, beside the run itself:
//                       files or not, evaluation, profiling, checkpoint cadence.
//
// What a training run is: the user's choices (model, data, precision, schedule, ...) and the
// mixed-precision policy and loss-scale options they imply. Validated once, with one clear error
// per contradiction or out-of-range value.
//
// Numeric settings and their ranges (resolve() rejects anything else, NaN and infinities
// included, with "--flag must be ... in [lo, hi], got V"):
//   epochs          [1, kMaxEpochs]       steps, stop_after      [1, kMaxSteps]
//   batch           [1, kMaxBatch]        accumulate             [1, batch], divides batch
//   lr              (0, kMaxLr]           weight_decay           [0, kMaxLr]
//   momentum        [0, 1)                init_scale             (0, 1e30]
//   growth_interval [1, kMaxSteps]        clip                   [0, 1e30] (0: off)
//   warmup          [0, 1)                context                [2, kMaxContext]
//   threads         [1, runtime::max_threads()]
//   stats_every     >= 1, or < 0 (off)    eval_batches           [1, kMaxEvalBatches]
//   auto_every      [1, kMaxSteps]        auto thresholds        [0, 1)
//   auto patience / window [1, 1000000]
//
// Zero as "default": in a RunSpec built in code, 0 keeps meaning "not given" for epochs and
// steps (neither: 1 epoch), batch (the model's default), lr (the optimizer's default), threads
// (the hardware concurrency), stats_every (max(20, steps/10)), eval_batches (automatic) and
// stop_after (no early stop); resolve() fills or keeps those. The CLI never passes a zero through
// that way: a flag given explicitly is range-checked as given (app::resolve_flags), so
// `--batch 0`, `--lr 0` or `--threads 0` are errors, not defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "amp/autopilot.h"
#include "amp/loss_scale.h"
#include "amp/policy.h"
#include "train/settings.h"

namespace mixtrain::nn {
class Module;
}

namespace mixtrain::train {

// Upper bounds of the numeric settings: far beyond any real run, and small enough that the step,
// sample and token arithmetic built on them (epochs x steps per epoch, step x batch x context)
// stays far from int64 overflow.
inline constexpr std::int64_t kMaxSteps = 1'000'000'000;
inline constexpr std::int64_t kMaxEpochs = 1'000'000;
inline constexpr std::int64_t kMaxBatch = std::int64_t{1} << 20;
inline constexpr double kMaxLr = 1e6;
inline constexpr std::int64_t kMaxContext = 4096;
inline constexpr std::int64_t kMaxEvalBatches = 1'000'000;
inline constexpr std::int64_t kMaxAutoCount = 1'000'000;  // --auto-patience, --auto-window

// Range checks that throw mixtrain::Error naming the flag and the range, e.g.
// "--threads must be an integer in [1, 256], got 10000" or
// "--lr must be a finite number in (0, 1e+06], got nan". `lo_open`/`hi_open` exclude the bound.
void check_int_range(const std::string& flag, std::int64_t v, std::int64_t lo, std::int64_t hi);
void check_real_range(const std::string& flag, double v, double lo, double hi, bool lo_open = false,
                      bool hi_open = false);

struct RunSpec {
  ModelFamily model = ModelFamily::mlp;
  std::optional<DataSet> data;             // default: fashion-mnist, fortunes for gpt
  std::string data_dir;                    // overrides the data set's default directory
  std::string data_path;                   // a UTF-8 text file for DataSet::text
  Precision precision = Precision::fp32;
  std::optional<amp::OptLevel> opt_level;  // default: O0 for fp32, O2 otherwise
  std::int64_t epochs = 0;                 // one of epochs / steps (0: not given)
  std::int64_t steps = 0;
  std::int64_t batch = 0;                  // 0: the model's default (256 images, 8 sequences)
  double lr = 0;                           // 0: the optimizer's default (1e-3 AdamW, 0.05 SGD)
  OptimizerKind optimizer = OptimizerKind::adamw;
  double weight_decay = 0.0;
  double momentum = 0.9;                   // sgd
  std::optional<LossScaleSetting> loss_scale;  // default: dynamic for fp16, none otherwise
  double init_scale = 65536.0;
  std::int64_t growth_interval = 2000;
  DType master = DType::fp32;              // fp32 | fp64
  std::string precision_map;
  amp::Fp8Recipe fp8_recipe = amp::Fp8Recipe::delayed;
  amp::Fp8Format fp8_format = amp::Fp8Format::hybrid;
  ScheduleKind schedule = ScheduleKind::warmup_cosine;  // linear warm-up, cosine decay
  double warmup = 0.02;                    // warm-up steps as a fraction of the run (cosine)
  double clip = 0;                         // global-norm clipping (0: off)
  std::int64_t accumulate = 1;             // micro-batches per optimizer step (per rank under mpirun)
  bool shard_optimizer = false;            // ZeRO-1 under mpirun: masters and optimizer state 1/N per rank
  bool allreduce_fast = false;             // under mpirun: MPI's own gradient sum (train/data_parallel.h)
  DType comm_dtype = DType::fp32;          // under mpirun: gradients cross ranks in fp32 or bf16
  std::uint64_t seed = 0;
  int threads = 0;                         // 0: all cores (MIXTRAIN_THREADS or the hardware)
  std::int64_t stop_after = 0;             // stop (and checkpoint) after this many steps, as if
                                           // interrupted; the schedule still spans all steps (0: no)
  std::string out_dir;
  std::string resume_dir;
  std::int64_t context = 128;              // gpt
  std::int64_t stats_every = 0;            // numerics statistics every K steps (0: max(20, steps/10), <0: off)
  std::int64_t eval_batches = 0;           // held-out batches evaluated at the end (0: all test images; gpt: 64 windows)
  bool quiet = false;                      // no progress output
  // --precision auto: the autopilot probes every auto_every steps with these thresholds.
  std::int64_t auto_every = 10;
  amp::AutopilotOptions auto_options;
};

struct ResolvedRun {
  RunSpec spec;            // with the defaults filled in (data, epochs, batch, lr)
  amp::Policy policy;
  amp::LossScaleOptions scale;
  bool autopilot = false;  // --precision auto: the policy is fp8's, the map is the autopilot's
  std::string label;       // "bf16 O2", "fp16-noscale", ...
};

// Fills model defaults and checks the combination and every range above; throws mixtrain::Error
// with one line.
ResolvedRun resolve(const RunSpec& spec);

// Where the model and the precision map meet: throws mixtrain::Error when a pattern of `map`
// matches none of the model's modules or parameters (a typo would otherwise silently change
// nothing); the message names the pattern and lists the model's layers. make_task() calls it on
// the model it builds with rc.policy.map (so `train`, `compare`, `bench` and `eval` all check).
void check_precision_map(const amp::PrecisionMap& map, nn::Module& model);

}  // namespace mixtrain::train
