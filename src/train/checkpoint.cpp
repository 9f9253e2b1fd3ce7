// Checkpoint serialisation on top of io/safetensors.
#include "train/checkpoint.h"

#include <cstring>

#include "io/safetensors.h"
#include "runtime/error.h"

namespace mixtrain::train {
namespace {

io::SafeTensor to_safe(const std::string& name, const Tensor& t) {
  io::SafeTensor s;
  s.name = name;
  s.dtype = std::string(numerics::spec(t.dtype()).safetensors);
  s.shape = t.shape();
  s.data.resize(t.nbytes());
  std::memcpy(s.data.data(), t.data(), t.nbytes());
  return s;
}

void from_safe(const io::SafeTensorsFile& f, const std::string& name, Tensor& t, const std::string& path) {
  const io::SafeTensor* s = f.find(name);
  if (!s) throw Error(path + ": checkpoint has no tensor '" + name + "'");
  if (s->shape != t.shape())
    throw Error(path + ": tensor '" + name + "' has shape " + to_string(s->shape) + ", the model expects " + to_string(t.shape()));
  const auto dt = s->float_dtype();
  if (!dt) throw Error(path + ": tensor '" + name + "' has non-float dtype " + s->dtype);
  Tensor loaded = Tensor::empty(s->shape, *dt);
  std::memcpy(loaded.data(), s->data.data(), s->data.size());
  if (*dt == t.dtype()) {
    std::memcpy(t.data(), loaded.data(), t.nbytes());
  } else {
    t.copy_from(loaded);
  }
}

}  // namespace

void save_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt,
                     const amp::GradScaler& scaler, const nlohmann::json& run_info) {
  io::SafeTensorsFile f;
  for (const auto& p : model.parameters()) f.tensors.push_back(to_safe("model." + p.name, *p.tensor));
  for (const auto& [name, t] : model.buffers()) f.tensors.push_back(to_safe("buffer." + name, *t));
  for (const auto& [name, t] : opt.state_tensors()) f.tensors.push_back(to_safe(name, *t));
  f.metadata["format"] = "mixtrain-checkpoint-1";
  f.metadata["run"] = run_info.dump();
  f.metadata["scaler"] = scaler.state_dict().dump();
  f.metadata["fp8"] = model.collect_extra_state().dump();
  f.metadata["optimizer"] = nlohmann::json{{"name", opt.name()}, {"steps", opt.steps()}}.dump();
  io::write_safetensors(path, f);
}

nlohmann::json read_checkpoint_info(const std::string& path) {
  const io::SafeTensorsFile f = io::read_safetensors(path);
  auto it = f.metadata.find("run");
  if (it == f.metadata.end()) throw Error(path + ": not a mixtrain checkpoint (no run metadata)");
  try {
    return nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception&) {
    throw Error(path + ": corrupt run metadata");
  }
}

nlohmann::json load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* opt, amp::GradScaler* scaler) {
  const io::SafeTensorsFile f = io::read_safetensors(path);
  auto meta = [&](const char* key) {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end()) throw Error(path + ": not a mixtrain checkpoint (no '" + key + "' metadata)");
    try {
      return nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception&) {
      throw Error(path + ": corrupt '" + std::string(key) + "' metadata");
    }
  };
  const nlohmann::json run = meta("run");
  for (const auto& p : model.parameters()) from_safe(f, "model." + p.name, *p.tensor, path);
  for (const auto& [name, t] : model.buffers()) from_safe(f, "buffer." + name, *t, path);
  model.restore_extra_state(meta("fp8"));
  if (opt) {
    for (const auto& [name, t] : opt->state_tensors()) from_safe(f, name, *t, path);
    opt->set_steps(meta("optimizer").value("steps", std::int64_t{0}));
  }
  if (scaler) scaler->load_state_dict(meta("scaler"));
  return run;
}

}  // namespace mixtrain::train
