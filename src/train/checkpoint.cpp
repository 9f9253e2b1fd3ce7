// Checkpoint serialisation on top of io/safetensors.
#include "train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "io/json_text.h"
#include "io/safetensors.h"
#include "numerics/convert.h"
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

// Non-finite elements of `n` elements of `dtype` at `bytes`, decoded block by block (in fp64,
// which holds every format exactly).
std::int64_t count_nonfinite(const void* data, DType dtype, std::size_t n) {
  constexpr std::size_t kBlock = 4096;
  const std::size_t elem = static_cast<std::size_t>(numerics::spec(dtype).bits() / 8);
  const auto* bytes = static_cast<const std::byte*>(data);
  std::int64_t bad = 0;
  double buf[kBlock];
  for (std::size_t i = 0; i < n; i += kBlock) {
    const std::size_t m = std::min(kBlock, n - i);
    numerics::decode(buf, bytes + i * elem, dtype, m);
    for (std::size_t k = 0; k < m; ++k) bad += std::isfinite(buf[k]) ? 0 : 1;
  }
  return bad;
}
std::int64_t count_nonfinite(const io::SafeTensor& s) {
  const auto dt = s.float_dtype();
  return dt ? count_nonfinite(s.data.data(), *dt, static_cast<std::size_t>(s.numel())) : 0;
}

void from_safe(const io::SafeTensorsFile& f, const std::string& name, Tensor& t, const std::string& path) {
  const io::SafeTensor* s = f.find(name);
  if (!s) throw Error(path + ": checkpoint has no tensor '" + name + "'");
  if (s->shape != t.shape())
    throw Error(path + ": tensor '" + name + "' has shape " + to_string(s->shape) + ", the model expects " + to_string(t.shape()));
  const auto dt = s->float_dtype();
  if (!dt) throw Error(path + ": tensor '" + name + "' has non-float dtype " + s->dtype);
  // No run writes non-finite weights or optimizer state (a step with inf/NaN gradients is
  // skipped), so a non-finite value means a damaged or forged file: refuse it before training
  // on it and writing NaN over a good checkpoint.
  const std::int64_t bad = count_nonfinite(*s);
  if (bad > 0)
    throw Error(path + ": tensor '" + name + "' holds " + std::to_string(bad) + " non-finite value(s)");
  Tensor loaded = Tensor::empty(s->shape, *dt);
  std::memcpy(loaded.data(), s->data.data(), s->data.size());
  if (*dt == t.dtype()) {
    std::memcpy(t.data(), loaded.data(), t.nbytes());
  } else {
    t.copy_from(loaded);
  }
}

nlohmann::json metadata_json(const std::string& path, const io::SafeTensorsFile& f, const char* key) {
  const auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw Error(path + ": not a mixtrain checkpoint (no '" + key + "' metadata)");
  return io::parse_json(it->second, path + ": '" + key + "' metadata");
}

// The run metadata with the fields every reader relies on type-checked: a checkpoint is input.
nlohmann::json checked_run_info(const std::string& path, const io::SafeTensorsFile& f) {
  nlohmann::json run = metadata_json(path, f, "run");
  const std::string where = path + ": 'run' metadata: ";
  if (!run.is_object()) throw Error(where + "not an object");
  try {
    io::json_int(run, "step", 0, kMaxCheckpointStep);
  } catch (const Error& e) {
    throw Error(where + e.what());
  }
  // The layout version (absent in checkpoints written before versioning, which stay readable).
  if (run.contains("schema_version") && !run["schema_version"].is_number_unsigned())
    throw Error(where + "'schema_version' is not a non-negative integer");
  if (run.contains("config") && !run["config"].is_object()) throw Error(where + "'config' is not an object");
  if (run.contains("precision_map") && !run["precision_map"].is_string()) throw Error(where + "'precision_map' is not a string");
  if (run.contains("autopilot") && !run["autopilot"].is_object()) throw Error(where + "'autopilot' is not an object");
  if (run.contains("config"))
    for (const auto& [k, v] : run["config"].items())
      if (!v.is_string() && !v.is_number() && !v.is_boolean() && !v.is_null())
        throw Error(where + "config field '" + io::printable(k) + "' is not a string or number");
  return run;
}

}  // namespace

void save_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt,
                     const amp::GradScaler& scaler, const nlohmann::json& run_info,
                     const std::vector<std::pair<std::string, Tensor>>* gathered_state) {
  io::SafeTensorsFile f;
  for (const auto& p : model.parameters()) f.tensors.push_back(to_safe("model." + p.name, *p.tensor));
  for (const auto& [name, t] : model.buffers()) f.tensors.push_back(to_safe("buffer." + name, *t));
  if (gathered_state)
    for (const auto& [name, t] : *gathered_state) f.tensors.push_back(to_safe(name, t));
  else
    for (const auto& [name, t] : opt.state_tensors()) f.tensors.push_back(to_safe(name, *t));
  // The loader refuses non-finite state, so writing it would replace a good checkpoint with one
  // that cannot be resumed: fail the run instead (the previous checkpoint stays current).
  for (const auto& t : f.tensors) {
    const std::int64_t bad = count_nonfinite(t);
    if (bad > 0)
      throw Failure("refusing to write checkpoint " + path + ": tensor '" + t.name + "' holds " + std::to_string(bad) +
                    " non-finite value(s) (the run diverged); the previous checkpoint is kept");
  }
  f.metadata["format"] = "mixtrain-checkpoint-1";
  f.metadata["run"] = run_info.dump();
  f.metadata["scaler"] = scaler.state_dict().dump();
  f.metadata["fp8"] = model.collect_extra_state().dump();
  f.metadata["optimizer"] = nlohmann::json{{"name", opt.name()}, {"steps", opt.steps()}}.dump();
  io::write_safetensors(path, f);
}

nlohmann::json read_checkpoint_info(const std::string& path) {
  return checked_run_info(path, io::read_safetensors(path));
}

nlohmann::json load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* opt, amp::GradScaler* scaler) {
  const io::SafeTensorsFile f = io::read_safetensors(path);
  const nlohmann::json run = checked_run_info(path, f);
  for (const auto& p : model.parameters()) from_safe(f, "model." + p.name, *p.tensor, path);
  for (const auto& [name, t] : model.buffers()) from_safe(f, "buffer." + name, *t, path);
  // The restorers validate what they read (ranges, finiteness) and throw mixtrain::Error; a value
  // of the wrong JSON type surfaces as nlohmann's exception. Both become one line naming the file.
  auto restoring = [&](const char* key, auto&& fn) {
    const nlohmann::json j = metadata_json(path, f, key);
    try {
      fn(j);
    } catch (const Error& e) {
      throw Error(path + ": '" + key + "' metadata: " + e.what());
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": '" + key + "' metadata: " + io::printable(e.what()));
    }
  };
  restoring("fp8", [&](const nlohmann::json& j) {
    if (!j.is_object()) throw Error("not an object");
    model.restore_extra_state(j);
  });
  if (opt) {
    for (const optim::StateSlot& slot : opt->state_slots()) {
      if (!slot.tensor) continue;  // another rank's shard
      if (slot.offset == 0 && slot.tensor->shape() == slot.full_shape) {
        from_safe(f, slot.name, *slot.tensor, path);
        continue;
      }
      // A sharded optimizer's slice: the whole tensor is read and checked, then its part copied.
      Tensor whole = Tensor::empty(slot.full_shape, slot.tensor->dtype());
      from_safe(f, slot.name, whole, path);
      const std::size_t elem = slot.tensor->nbytes() / static_cast<std::size_t>(std::max<std::int64_t>(1, slot.tensor->numel()));
      std::memcpy(slot.tensor->data(), static_cast<const std::byte*>(whole.data()) + static_cast<std::size_t>(slot.offset) * elem,
                  slot.tensor->nbytes());
    }
    restoring("optimizer", [&](const nlohmann::json& j) {
      opt->set_steps(io::json_int(j, "steps", 0, kMaxCheckpointStep));
    });
  }
  if (scaler) restoring("scaler", [&](const nlohmann::json& j) { scaler->load_state_dict(j); });
  return run;
}

}  // namespace mixtrain::train
