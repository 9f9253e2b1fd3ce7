// Shared training flags.
#include "train_options.h"

#include "commands.h"
#include "runtime/error.h"

namespace mixtrain::app {

void add_train_flags(CLI::App* cmd, TrainFlags& f, bool with_precision) {
  auto& c = f.cfg;
  cmd->add_option("--model", c.model, "mlp | cnn | resnet | gpt")->required();
  cmd->add_option("--data", c.data, "fashion-mnist | fortunes | text (default: the model's data set)");
  cmd->add_option("--data-dir", c.data_dir, "directory of the data set's files (default: the Debian package's)");
  cmd->add_option("--data-path", c.data_path, "a UTF-8 text file for --data text");
  if (with_precision)
    cmd->add_option("--precision", c.precision, "fp32 | fp16 | bf16 | fp8 | auto (per-layer autopilot) (also fp16-noscale, bf16-O3, bf16-O3-sr)");
  cmd->add_option("--opt-level", f.opt_level, "O0 | O1 | O2 | O3 (default: O0 for fp32, O2 otherwise)");
  cmd->add_option("--epochs", c.epochs, "epochs (classifiers)");
  cmd->add_option("--steps", c.steps, "optimizer steps");
  cmd->add_option("--batch", c.batch, "batch size (default 256 images / 8 sequences)");
  cmd->add_option("--lr", c.lr, "learning rate (default 1e-3 AdamW, 0.05 SGD)");
  cmd->add_option("--optimizer", c.optimizer, "sgd | adamw");
  cmd->add_option("--weight-decay", c.weight_decay, "weight decay (decoupled for AdamW)");
  cmd->add_option("--loss-scale", c.loss_scale, "dynamic | none | VALUE (default: dynamic for fp16, none otherwise)");
  cmd->add_option("--init-scale", c.init_scale, "initial dynamic loss scale (default 65536)");
  cmd->add_option("--growth-interval", c.growth_interval, "clean steps before the loss scale grows (default 2000)");
  cmd->add_option("--master", c.master, "master weight dtype: fp32 | fp64");
  cmd->add_option("--precision-map", c.precision_map, "per-layer GEMM dtypes, e.g. 'head=fp32,blocks.*.attn=bf16'");
  cmd->add_option("--fp8-recipe", c.fp8_recipe, "delayed | current");
  cmd->add_option("--fp8-format", c.fp8_format, "hybrid (E4M3 fwd, E5M2 grads) | e4m3");
  cmd->add_option("--schedule", c.schedule, "learning-rate schedule: cosine (default; linear warm-up then cosine to 0) | constant");
  cmd->add_option("--warmup", c.warmup, "warm-up length as a fraction of the run (default 0.02)");
  cmd->add_option("--clip", c.clip, "clip the global gradient norm to this value (after unscaling)");
  cmd->add_option("--accumulate", c.accumulate, "micro-batches per optimizer step");
  cmd->add_option("--seed", f.seed, "seed for initialisation and data order");
  cmd->add_option("--threads", c.threads, "threads (default: all cores)");
  cmd->add_option("--context", c.context, "gpt context length (default 128)");
  cmd->add_option("--stats-every", c.stats_every, "numerics statistics (gradients, weights, loss-scale headroom) every K steps (default: max(20, steps/10); -1: off)");
  cmd->add_option("--stop-after", c.stop_after, "stop after N steps and checkpoint, as if interrupted (for --resume)");
  cmd->add_option("--auto-every", c.auto_every, "--precision auto: probe the layers' numerics every K steps, and at steps 0, 1, 2, 4, ... before K (default 10)");
  cmd->add_option("--auto-overflow", c.auto_options.overflow_threshold,
                  "--precision auto: promote a layer when more than this fraction of an operand overflows (default 0.001)");
  cmd->add_option("--auto-underflow", c.auto_options.underflow_threshold,
                  "--precision auto: promote when more than this fraction of a gradient flushes or turns subnormal (default 0.01)");
  cmd->add_option("--auto-underflow-forward", c.auto_options.forward_underflow_threshold,
                  "--precision auto: the same for inputs and weights (default 0.1)");
  cmd->add_option("--auto-patience", c.auto_options.patience, "--precision auto: consecutive failing probes before a promotion (default 2)");
  cmd->add_option("--auto-window", c.auto_options.stable_window,
                  "--precision auto: consecutive fitting probes before a demotion, doubled per promotion (default 4)");
  cmd->add_flag("--quiet", c.quiet, "no progress output");
}

train::ResolvedConfig resolve_flags(const TrainFlags& f) {
  train::TrainConfig c = f.cfg;
  c.seed = parse_seed(f.seed);
  if (!f.opt_level.empty()) {
    if (f.opt_level == "O0") c.opt_level = amp::OptLevel::O0;
    else if (f.opt_level == "O1") c.opt_level = amp::OptLevel::O1;
    else if (f.opt_level == "O2") c.opt_level = amp::OptLevel::O2;
    else if (f.opt_level == "O3") c.opt_level = amp::OptLevel::O3;
    else throw Error("--opt-level must be O0, O1, O2 or O3, got '" + f.opt_level + "'");
  }
  return train::resolve(c);
}

}  // namespace mixtrain::app
