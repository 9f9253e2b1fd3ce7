// `mixtrain train`: one training run; prints the effective precision map first and the summary
// at the end.
#include <cstdio>

#include "commands.h"
#include "train/trainer.h"
#include "train_options.h"

namespace mixtrain::app {

void print_policy(const train::ResolvedRun& rc) {
  if (rc.spec.quiet) return;  // --quiet: stderr carries only an error, if there is one
  std::fprintf(stderr, "policy: %s; loss scale: %s\n", rc.policy.describe().c_str(),
               rc.scale.mode == amp::ScaleMode::dynamic ? "dynamic" : rc.scale.mode == amp::ScaleMode::constant ? "static" : "none");
  if (!rc.policy.map.empty()) std::fprintf(stderr, "precision map: %s\n", rc.policy.map.to_string().c_str());
}

void register_train(CLI::App& app) {
  auto f = std::make_shared<CliTrainFlags>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model in a chosen precision");
  add_train_flags(cmd, *f, true);
  cmd->add_option("--out", f->spec.out_dir, "output directory (metrics.jsonl, summary.json, checkpoint.safetensors)")->required();
  cmd->add_option("--resume", f->spec.resume_dir, "continue from the newest checkpoint in this run directory");
  auto topt = std::make_shared<train::RunControls>();
  cmd->add_option("--checkpoint-every", topt->checkpoint_every,
                  "also commit a checkpoint every N steps (default 0: only at the end or --stop-after)");
  cmd->add_option("--checkpoint-keep", topt->checkpoint_keep, "keep the newest K checkpoints in --out (default 2)");
  cmd->callback([f, topt] {
    const train::ResolvedRun rc = resolve_flags(*f);
    print_policy(rc);
    const auto summary = train::run_training(rc, *topt);
    std::printf("%s\n", summary.dump().c_str());
  });
}

}  // namespace mixtrain::app
