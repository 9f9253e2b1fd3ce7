// `mixtrain train`: one training run. Prints the effective precision map first, progress while it
// trains (stderr) and one human line at the end (stdout); the whole summary is summary.json, or
// stdout with --json. --quiet prints nothing on success.
#include <cmath>
#include <cstdio>
#include <string>

#include "commands.h"
#include "dist/communicator.h"
#include "train/progress.h"
#include "train/trainer.h"
#include "train_options.h"

namespace mixtrain::app {

void print_policy(const train::ResolvedRun& rc) {
  if (rc.spec.quiet) return;  // --quiet: stderr carries only an error, if there is one
  std::fprintf(stderr, "policy: %s; loss scale: %s\n", rc.policy.describe().c_str(),
               rc.scale.mode == amp::ScaleMode::dynamic ? "dynamic" : rc.scale.mode == amp::ScaleMode::constant ? "static" : "none");
  if (!rc.policy.map.empty()) std::fprintf(stderr, "precision map: %s\n", rc.policy.map.to_string().c_str());
}

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// "bf16 O2 mlp: 500 steps in 1m23s, train loss 0.4123, test loss 0.4410, accuracy 84.12%,
// 3.1 ms/step, peak memory 12.3 MiB, 0 skipped -> run/summary.json"
std::string summary_line(const nlohmann::json& s, const std::string& label, const std::string& out_dir) {
  const auto number = [&s](const char* k) { return s.contains(k) && s[k].is_number() ? s[k].get<double>() : NAN; };
  std::string line = label + ": " + std::to_string(s.value("steps", 0)) + " steps in " +
                     train::Progress::format_duration(number("elapsed_s"));
  line += ", train loss " + fmt("%.4f", number("final_train_loss"));
  if (s.contains("val_loss")) line += ", val loss " + fmt("%.4f", number("val_loss"));
  if (s.contains("test_loss")) line += ", test loss " + fmt("%.4f", number("test_loss"));
  if (s.contains("test_accuracy")) line += ", accuracy " + fmt("%.2f%%", 100 * number("test_accuracy"));
  line += ", " + fmt("%.1f ms/step", number("ms_per_step"));
  if (s.contains("peak_bytes") && s["peak_bytes"].is_object())
    line += ", peak memory " + fmt("%.1f MiB", s["peak_bytes"].value("total", 0.0) / 1048576.0);
  const auto skipped = s.value("skipped_steps", std::int64_t{0});
  if (skipped > 0) line += ", " + std::to_string(skipped) + " skipped";
  if (!s.value("complete", true)) line += " (stopped early, --resume to continue)";
  return line + " -> " + out_dir + "/summary.json";
}

}  // namespace

void register_train(CLI::App& app) {
  auto f = std::make_shared<CliTrainFlags>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("train", "Train a model in a chosen precision");
  add_train_flags(cmd, *f, TrainFlagSet{});
  cmd->add_option("--out", f->spec.out_dir, "output directory (metrics.jsonl, summary.json, checkpoint.safetensors)")
      ->required()->group(kGroupOutput);
  cmd->add_option("--resume", f->spec.resume_dir, "continue from the newest checkpoint in this run directory")->group(kGroupOutput);
  auto topt = std::make_shared<train::RunControls>();
  cmd->add_option("--checkpoint-every", topt->checkpoint_every,
                  "also commit a checkpoint every N steps (default 0: only at the end or --stop-after)")->group(kGroupOutput);
  cmd->add_option("--checkpoint-keep", topt->checkpoint_keep, "keep the newest K checkpoints in --out (default 2)")->group(kGroupOutput);
  cmd->add_flag("--json", *json, "print the whole summary (summary.json) on stdout instead of the one-line summary")->group(kGroupOutput);
  cmd->callback([f, topt, json] {
    // Under mpirun (docs/DISTRIBUTED.md) rank 0 alone prints; the others stay silent unless they fail.
    const bool root = dist::world().rank() == 0;
    if (!root) f->spec.quiet = true;
    const train::ResolvedRun rc = resolve_flags(*f);
    topt->eval_every = eval_every_or_throw(*f);
    print_policy(rc);
    const auto summary = train::run_training(rc, *topt);
    if (!root) return;
    if (*json)
      std::printf("%s\n", summary.dump().c_str());
    else if (!rc.spec.quiet)
      std::printf("%s\n", summary_line(summary, rc.label + " " + std::string(train::to_string(rc.spec.model)), rc.spec.out_dir).c_str());
  });
}

}  // namespace mixtrain::app
