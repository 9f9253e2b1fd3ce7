// `mixtrain eval`: evaluates a checkpoint on its held-out data, optionally in another precision.
// Everything it takes from the checkpoint's run metadata is input: each field is type- and
// range-checked, and a wrong one is one line naming the checkpoint and the field.
#include <cstdio>
#include <limits>
#include <type_traits>

#include "commands.h"
#include "io/input_file.h"
#include "io/json_text.h"
#include "train/checkpoint.h"
#include "train/task.h"
#include "train_options.h"

namespace mixtrain::app {
namespace {

// The value of `key` in the metadata object `obj` as a T, or `fallback` when it is absent or
// null; a value of another JSON type (or out of T's range) throws one mixtrain::Error naming
// `where` and the field, never nlohmann's type_error.
template <typename T>
T field(const nlohmann::json& obj, const std::string& key, const T& fallback, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  const nlohmann::json& v = *it;
  bool ok = false;
  const char* want = "";
  if constexpr (std::is_same_v<T, std::string>) {
    ok = v.is_string();
    want = "a string";
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
    want = "a non-negative integer";
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    ok = v.is_number_integer() &&
         (!v.is_number_unsigned() || v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    want = "an integer";
  } else if constexpr (std::is_same_v<T, double>) {
    ok = v.is_number();
    want = "a number";
  } else {
    static_assert(std::is_same_v<T, bool>, "field<T>: string, uint64, int64, double or bool");
    ok = v.is_boolean();
    want = "true or false";
  }
  if (!ok) throw Error(where + ": field '" + key + "' is not " + want + " (got " + io::printable(v.dump(), 60) + ")");
  return v.get<T>();
}

// An integer field that must lie in [lo, hi] (0 allowed where it means "not given").
std::int64_t int_field(const nlohmann::json& obj, const std::string& key, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi, const std::string& where) {
  const std::int64_t v = field<std::int64_t>(obj, key, fallback, where);
  if (v < lo || v > hi)
    throw Error(where + ": field '" + key + "' is " + std::to_string(v) + ", outside [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return v;
}

}  // namespace

void register_eval(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>();
  auto data_path = std::make_shared<std::string>();
  auto precision = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint");
  cmd->add_option("--checkpoint", *dir, "run directory holding checkpoint.safetensors (or the file)")->required();
  cmd->add_option("--data", *data, "data set (default: the one it was trained on)");
  cmd->add_option("--data-dir", *data_dir, "directory of the data set's files (default: the one it was trained on)");
  cmd->add_option("--data-path", *data_path, "the UTF-8 text file for --data text (default: the one it was trained on)");
  cmd->add_option("--precision", *precision, "evaluate in this precision (default: the training precision)");
  cmd->callback([=] {
    const std::string path = dir->ends_with(".safetensors") ? *dir : *dir + "/checkpoint.safetensors";
    const nlohmann::json info = train::read_checkpoint_info(path);
    const std::string where = "eval: " + path + ": run metadata";
    if (!info.is_object()) throw Error(where + " is not an object");
    const auto cfg_it = info.find("config");
    const nlohmann::json saved = cfg_it == info.end() || cfg_it->is_null() ? nlohmann::json::object() : *cfg_it;
    if (!saved.is_object()) throw Error(where + ": 'config' is not an object");
    const std::string cwhere = where + " config";
    train::RunSpec c;
    c.model = train::model_or_throw(field<std::string>(saved, "model", "mlp", cwhere));
    const std::string trained_on = field<std::string>(saved, "data", "", cwhere);
    const std::string data_name = data->empty() ? trained_on : *data;
    if (!data_name.empty()) c.data = train::data_set_or_throw(data_name, c.model);
    c.data_dir = data_dir->empty() ? field<std::string>(saved, "data_dir", "", cwhere) : *data_dir;
    const std::string saved_path = field<std::string>(saved, "data_path", "", cwhere);
    c.data_path = data_path->empty() ? saved_path : *data_path;
    if (c.data == train::DataSet::text) {
      if (c.data_path.empty())
        throw Error(trained_on == "text" ? "eval: this checkpoint was trained on --data text; pass --data-path FILE"
                                         : "eval: --data text needs --data-path FILE");
      if (data_path->empty()) {
        // The stored path: say where it came from when it is gone.
        try {
          io::InputFile probe(c.data_path);
        } catch (const Error& e) {
          throw Error(std::string("eval: the text this checkpoint was trained on: ") + e.what() + "; pass --data-path FILE");
        }
      }
    }
    c.precision = train::precision_or_throw(precision->empty() ? field<std::string>(saved, "precision", "fp32", cwhere) : *precision);
    if (precision->empty()) {
      // The training policy as it ended: fp8 options, and the precision map the run finished
      // with (an autopilot run's final choice; the user's map otherwise). An autopilot run is
      // evaluated as fp8 with that map: the layers' rungs decide their fp8 state and dtypes.
      c.fp8_recipe = train::fp8_recipe_or_throw(field<std::string>(saved, "fp8_recipe", "delayed", cwhere));
      c.fp8_format = train::fp8_format_or_throw(field<std::string>(saved, "fp8_format", "hybrid", cwhere));
      c.precision_map = field<std::string>(info, "precision_map", field<std::string>(saved, "precision_map", "", cwhere), where);
      if (c.precision == train::Precision::autopilot) c.precision = train::Precision::fp8;
    }
    c.context = int_field(saved, "context", 128, 2, train::kMaxContext, cwhere);
    c.batch = int_field(saved, "batch", 0, 0, train::kMaxBatch, cwhere);
    c.seed = field<std::uint64_t>(saved, "seed", 0, cwhere);
    c.steps = 1;
    const train::ResolvedRun rc = train::resolve(c);
    // make_task checks the map against the model it builds (train::check_precision_map): a
    // stored map that names no layer of it is one error.
    auto task = train::make_task(rc);
    task->model().apply_policy(rc.policy);
    train::load_checkpoint(path, task->model(), nullptr, nullptr);
    const train::EvalResult r = task->evaluate(rc.policy);
    nlohmann::json out{{"checkpoint", path}, {"model", std::string(train::to_string(c.model))}, {"precision", std::string(train::to_string(c.precision))}};
    out[task->is_language_model() ? "val_loss" : "test_loss"] = r.loss;
    if (r.accuracy >= 0) out["test_accuracy"] = r.accuracy;
    std::printf("%s\n", out.dump().c_str());
  });
}

}  // namespace mixtrain::app
