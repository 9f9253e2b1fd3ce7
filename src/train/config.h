// What a training run is: the user's choices (model, data, precision, schedule, ...) and the
// mixed-precision policy and loss-scale options they imply. Validated once, with one clear error
// per contradiction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "amp/autopilot.h"
#include "amp/loss_scale.h"
#include "amp/policy.h"

namespace mixtrain::train {

struct TrainConfig {
  std::string model = "mlp";          // mlp cnn resnet gpt
  std::string data = "fashion-mnist"; // fashion-mnist | fortunes | text (with data_path)
  std::string data_dir;               // overrides the data set's default directory
  std::string data_path;              // a UTF-8 text file for `text`
  // fp32 fp16 bf16 fp8 auto, or the comparison variants fp16-noscale, bf16-O3, bf16-O3-sr.
  std::string precision = "fp32";
  std::optional<amp::OptLevel> opt_level;  // default: O0 for fp32, O2 otherwise
  std::int64_t epochs = 0;                 // one of epochs / steps
  std::int64_t steps = 0;
  std::int64_t batch = 0;                  // 0: the model's default (256 images, 8 sequences)
  double lr = 0;                           // 0: the model's default
  std::string optimizer = "adamw";         // sgd | adamw
  double weight_decay = 0.0;
  double momentum = 0.9;                   // sgd
  std::string loss_scale;                  // dynamic | none | VALUE; default: dynamic for fp16
  double init_scale = 65536.0;
  std::int64_t growth_interval = 2000;
  std::string master = "fp32";             // fp32 | fp64
  std::string precision_map;
  std::string fp8_recipe = "delayed";      // delayed | current
  std::string fp8_format = "hybrid";       // hybrid | e4m3
  std::string schedule = "cosine";         // constant | cosine (linear warm-up, cosine decay)
  double warmup = 0.02;                    // warm-up steps as a fraction of the run (cosine)
  double clip = 0;                         // global-norm clipping (0: off)
  std::int64_t accumulate = 1;             // micro-batches per optimizer step
  std::uint64_t seed = 0;
  int threads = 0;
  std::int64_t stop_after = 0;             // stop (and checkpoint) after this many steps, as if
                                           // interrupted; the schedule still spans all steps
  std::string out_dir;
  std::string resume_dir;
  std::int64_t context = 128;              // gpt
  std::int64_t stats_every = 0;            // numerics statistics every K steps (0: max(20, steps/10), <0: off)
  std::int64_t eval_batches = 0;           // gpt validation batches (0: auto)
  bool quiet = false;                      // no progress output
  // --precision auto: the autopilot probes every auto_every steps with these thresholds.
  std::int64_t auto_every = 10;
  amp::AutopilotOptions auto_options;
};

struct ResolvedConfig {
  TrainConfig cfg;
  amp::Policy policy;
  amp::LossScaleOptions scale;
  bool autopilot = false;  // --precision auto: the policy is fp8's, the map is the autopilot's
  std::string label;  // "bf16 O2", "fp16-noscale", ...
};

// Fills model defaults and checks the combination; throws mixtrain::Error with one line.
ResolvedConfig resolve(const TrainConfig& cfg);

}  // namespace mixtrain::train
