// `mixtrain eval`: evaluates a checkpoint on its held-out data, optionally in another precision.
#include <cstdio>

#include "commands.h"
#include "train/checkpoint.h"
#include "train/task.h"
#include "train_options.h"

namespace mixtrain::app {

void register_eval(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>();
  auto precision = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint");
  cmd->add_option("--checkpoint", *dir, "run directory holding checkpoint.safetensors (or the file)")->required();
  cmd->add_option("--data", *data, "data set (default: the one it was trained on)");
  cmd->add_option("--data-dir", *data_dir, "directory of the data set's files");
  cmd->add_option("--precision", *precision, "evaluate in this precision (default: the training precision)");
  cmd->callback([=] {
    const std::string path = dir->ends_with(".safetensors") ? *dir : *dir + "/checkpoint.safetensors";
    const nlohmann::json info = train::read_checkpoint_info(path);
    const nlohmann::json saved = info.value("config", nlohmann::json::object());
    train::TrainConfig c;
    c.model = saved.value("model", std::string("mlp"));
    c.data = data->empty() ? saved.value("data", std::string()) : *data;
    c.data_dir = *data_dir;
    c.precision = precision->empty() ? saved.value("precision", std::string("fp32")) : *precision;
    if (precision->empty()) {
      // The training policy as it ended: fp8 options, and the precision map the run finished
      // with (an autopilot run's final choice; the user's map otherwise). An autopilot run is
      // evaluated as fp8 with that map: the layers' rungs decide their fp8 state and dtypes.
      c.fp8_recipe = saved.value("fp8_recipe", c.fp8_recipe);
      c.fp8_format = saved.value("fp8_format", c.fp8_format);
      c.precision_map = info.value("precision_map", saved.value("precision_map", std::string()));
      if (c.precision == "auto") c.precision = "fp8";
    }
    c.context = saved.value("context", std::int64_t{128});
    c.batch = saved.value("batch", std::int64_t{0});
    c.seed = saved.value("seed", std::uint64_t{0});
    c.steps = 1;
    const train::ResolvedConfig rc = train::resolve(c);
    auto task = train::make_task(rc);
    task->model().apply_policy(rc.policy);
    train::load_checkpoint(path, task->model(), nullptr, nullptr);
    const train::EvalResult r = task->evaluate(rc.policy);
    nlohmann::json out{{"checkpoint", path}, {"model", c.model}, {"precision", c.precision}};
    out[task->is_language_model() ? "val_loss" : "test_loss"] = r.loss;
    if (r.accuracy >= 0) out["test_accuracy"] = r.accuracy;
    std::printf("%s\n", out.dump().c_str());
  });
}

}  // namespace mixtrain::app
