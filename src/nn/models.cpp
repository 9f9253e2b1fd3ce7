// make_model.
#include "nn/models.h"

#include "nn/cnn.h"
#include "nn/gpt.h"
#include "nn/mlp.h"
#include "nn/resnet.h"
#include "runtime/error.h"

namespace mixtrain::nn {

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"mlp", "cnn", "resnet", "gpt"};
  return names;
}

std::unique_ptr<Module> make_model(const std::string& name, std::uint64_t seed) {
  if (name == "mlp") return std::make_unique<MLP>(MLPOptions{.seed = seed});
  if (name == "cnn") return std::make_unique<CNN>(CNNOptions{.seed = seed});
  if (name == "resnet") return std::make_unique<ResNet>(ResNetOptions{.seed = seed});
  if (name == "gpt") return std::make_unique<GPT>(GPTConfig{.seed = seed});
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : " ") + n;
  throw Error("unknown model '" + name + "' (known: " + known + ")");
}

}  // namespace mixtrain::nn
