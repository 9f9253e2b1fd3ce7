// Checkpoints: one safetensors file with the model's parameters in their training dtypes
// ("model.<name>"), buffers ("buffer.<name>"), master weights and optimizer state
// ("master.<name>", "optim.m.<name>", "optim.v.<name>"), and in the metadata the loss-scaler
// state, each layer's fp8 scaling state, the step and the run's configuration (JSON strings).
// Written through a temp file and a rename, so an earlier checkpoint is never lost.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "amp/grad_scaler.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace mixtrain::train {

// The largest step a checkpoint may record (far beyond any run; keeps step arithmetic such as
// step × batch × sequence length far from int64 overflow).
inline constexpr std::int64_t kMaxCheckpointStep = std::int64_t{1} << 40;

// `gathered_state`: the optimizer's state as whole tensors when the optimizer is sharded (ZeRO-1:
// each rank holds a slice; train/data_parallel.h gathers them on rank 0), written in place of
// opt.state_tensors() so the file is the one an unsharded run writes.
void save_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt,
                     const amp::GradScaler& scaler, const nlohmann::json& run_info,
                     const std::vector<std::pair<std::string, Tensor>>* gathered_state = nullptr);

// Restores everything save_checkpoint wrote (opt/scaler may be null for evaluation); a sharded
// optimizer takes its slice of each whole tensor, so any number of ranks resumes any checkpoint.
// Returns the run_info. Throws mixtrain::Error (one line) on a missing, truncated or mismatched file.
nlohmann::json load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* opt,
                               amp::GradScaler* scaler);

// Only the run_info of a checkpoint (to rebuild the model before loading it).
nlohmann::json read_checkpoint_info(const std::string& path);

}  // namespace mixtrain::train
