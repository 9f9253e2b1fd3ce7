// Checkpoints: one safetensors file with the model's parameters in their training dtypes
// ("model.<name>"), buffers ("buffer.<name>"), master weights and optimizer state
// ("master.<name>", "optim.m.<name>", "optim.v.<name>"), and in the metadata the loss-scaler
// state, each layer's fp8 scaling state, the step and the run's configuration (JSON strings).
// Written through a temp file and a rename, so an earlier checkpoint is never lost.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>

#include "amp/grad_scaler.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace mixtrain::train {

// The largest step a checkpoint may record (far beyond any run; keeps step arithmetic such as
// step × batch × sequence length far from int64 overflow).
inline constexpr std::int64_t kMaxCheckpointStep = std::int64_t{1} << 40;

void save_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt,
                     const amp::GradScaler& scaler, const nlohmann::json& run_info);

// Restores everything save_checkpoint wrote (opt/scaler may be null for evaluation). Returns the
// run_info. Throws mixtrain::Error (one line) on a missing, truncated or mismatched file.
nlohmann::json load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* opt,
                               amp::GradScaler* scaler);

// Only the run_info of a checkpoint (to rebuild the model before loading it).
nlohmann::json read_checkpoint_info(const std::string& path);

}  // namespace mixtrain::train
