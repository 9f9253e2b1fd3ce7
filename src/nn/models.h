// The model factory behind the CLI's --model: "mlp" (784-1024-1024-10), "cnn", "resnet" and
// "gpt" (the default GPTConfig; build nn::GPT directly for another config), each with its
// defaults and deterministic in `seed`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"

namespace mixtrain::nn {

// The CLI names, in the order they are listed in messages.
const std::vector<std::string>& model_names();
// Throws mixtrain::Error "unknown model 'x' (known: mlp cnn resnet gpt)" for another name.
std::unique_ptr<Module> make_model(const std::string& name, std::uint64_t seed);

}  // namespace mixtrain::nn
