// Shared training flags.
#include "train_options.h"

#include <type_traits>

#include "commands.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::app {

void add_train_flags(CLI::App* cmd, CliTrainFlags& f, const TrainFlagSet& which) {
  auto& c = f.spec;
  const auto in = [](const char* group) { return [group](CLI::Option* o) { o->group(group); }; };
  const auto model = in(kGroupModel), precision = in(kGroupPrecision), length = in(kGroupLength), scaling = in(kGroupScaling),
             fp8 = in(kGroupFp8), pilot = in(kGroupAutopilot), measure = in(kGroupMeasure), output = in(kGroupOutput),
             machine = in(kGroupMachine);
  model(cmd->add_option("--model", f.model, "mlp | cnn | resnet | gpt")->required());
  model(cmd->add_option("--data", f.data, "fashion-mnist | fortunes | text (default: the model's data set)"));
  model(cmd->add_option("--data-dir", c.data_dir, "directory of the data set's files (default: the Debian package's)"));
  model(cmd->add_option("--data-path", c.data_path, "a UTF-8 text file for --data text"));
  model(cmd->add_option("--context", c.context, "gpt context length, 2-4096 (default 128)"));
  model(cmd->add_option("--seed", f.seed, "seed for initialisation and data order"));
  if (which.precision)
    precision(cmd->add_option("--precision", f.precision, "fp32 | fp16 | bf16 | fp8 | auto (per-layer autopilot) (also fp16-noscale, bf16-O3, bf16-O3-sr)"));
  precision(cmd->add_option("--opt-level", f.opt_level, "O0 | O1 | O2 | O3 (default: O0 for fp32, O2 otherwise)"));
  precision(cmd->add_option("--master", f.master, "master weight dtype: fp32 | fp64"));
  precision(cmd->add_option("--precision-map", c.precision_map, "per-layer GEMM dtypes, e.g. 'head=fp32,blocks.*.attn=bf16'"));
  length(cmd->add_option("--epochs", f.epochs, "epochs (classifiers), 1-1000000 (default: 1 unless --steps)"));
  length(cmd->add_option("--steps", f.steps, "optimizer steps, 1-1000000000"));
  length(cmd->add_option("--batch", f.batch, "batch size, 1-1048576 (default 256 images, 128 for resnet / 8 sequences)"));
  length(cmd->add_option("--accumulate", c.accumulate, "micro-batches per optimizer step, dividing --batch (default 1)"));
  length(cmd->add_option("--optimizer", f.optimizer, "sgd | adamw"));
  length(cmd->add_option("--lr", f.lr, "learning rate, in (0, 1e6] (default 1e-3 AdamW, 0.05 SGD)"));
  length(cmd->add_option("--schedule", f.schedule, "learning-rate schedule: cosine (default; linear warm-up then cosine to 0) | constant"));
  length(cmd->add_option("--warmup", c.warmup, "warm-up length as a fraction of the run, in [0, 1) (default 0.02)"));
  length(cmd->add_option("--weight-decay", c.weight_decay, "weight decay (decoupled for AdamW), in [0, 1e6] (default 0)"));
  length(cmd->add_option("--clip", c.clip, "clip the global gradient norm to this value (after unscaling), in [0, 1e30] (default 0: off)"));
  scaling(cmd->add_option("--loss-scale", f.loss_scale, "dynamic | none | VALUE (default: dynamic for fp16, none otherwise)"));
  scaling(cmd->add_option("--init-scale", c.init_scale, "initial dynamic loss scale, in (0, 1e30] (default 65536)"));
  scaling(cmd->add_option("--growth-interval", c.growth_interval, "clean steps before the loss scale grows, 1-1000000000 (default 2000)"));
  fp8(cmd->add_option("--fp8-recipe", f.fp8_recipe, "delayed | current"));
  fp8(cmd->add_option("--fp8-format", f.fp8_format, "hybrid (E4M3 fwd, E5M2 grads) | e4m3"));
  if (which.autopilot) {
    pilot(cmd->add_option("--auto-every", c.auto_every, "probe the layers' numerics every K >= 1 steps, and at steps 0, 1, 2, 4, ... before K (default 10)"));
    pilot(cmd->add_option("--auto-overflow", c.auto_options.overflow_threshold,
                          "promote a layer when more than this fraction of an operand overflows, in [0, 1) (default 0.001)"));
    pilot(cmd->add_option("--auto-underflow", c.auto_options.underflow_threshold,
                          "promote when more than this fraction of a gradient flushes or turns subnormal, in [0, 1) (default 0.01)"));
    pilot(cmd->add_option("--auto-underflow-forward", c.auto_options.forward_underflow_threshold,
                          "the same for inputs and weights, in [0, 1) (default 0.1)"));
    pilot(cmd->add_option("--auto-patience", c.auto_options.patience, "consecutive failing probes before a promotion, 1-1000000 (default 2)"));
    pilot(cmd->add_option("--auto-window", c.auto_options.stable_window,
                          "consecutive fitting probes before a demotion, doubled per promotion, 1-1000000 (default 4)"));
  }
  measure(cmd->add_option("--stats-every", f.stats_every,
                          "numerics statistics (gradients, weights, loss-scale headroom) every K >= 1 steps (default: max(20, steps/10); -1: off)"));
  if (which.evaluation) {
    measure(cmd->add_option("--eval-every", f.eval_every,
                            "also evaluate on held-out data every N steps, 1-1000000000 (\"eval\" lines in metrics.jsonl; default: only at the end)"));
    measure(cmd->add_option("--eval-batches", f.eval_batches,
                            "each evaluation takes the first N batches of --batch samples, 1-1000000 (default: the whole test set; gpt: 64 windows)"));
  }
  if (which.stop_after)
    output(cmd->add_option("--stop-after", f.stop_after, "stop after N >= 1 steps and checkpoint, as if interrupted (for --resume)"));
  if (which.quiet) output(cmd->add_flag("--quiet", c.quiet, "print nothing on success (errors still go to stderr)"));
  machine(cmd->add_option("--threads", f.threads, "threads, 1-max(256, cores) (default: all cores); per rank under mpirun"));
  machine(cmd->add_flag("--shard-optimizer", c.shard_optimizer,
                        "under mpirun: each rank keeps fp32 masters and optimizer state for 1/N of the parameters (ZeRO-1; docs/DISTRIBUTED.md)"));
  machine(cmd->add_option_function<std::string>(
      "--allreduce",
      [&c](const std::string& v) {
        if (v != "ordered" && v != "fast") throw Error("--allreduce must be ordered or fast, got '" + v + "'");
        c.allreduce_fast = v == "fast";
      },
      "under mpirun: ordered (default; fixed-order sum, bit-identical to --accumulate N) | fast (MPI's own sum)"));
  machine(cmd->add_option_function<std::string>(
      "--comm-dtype",
      [&c](const std::string& v) {
        if (v != "fp32" && v != "bf16") throw Error("--comm-dtype must be fp32 or bf16, got '" + v + "'");
        c.comm_dtype = v == "bf16" ? DType::bf16 : DType::fp32;
      },
      "under mpirun: gradients cross ranks in fp32 (default) or bf16 (half the bytes, summed in fp32)"));
}

std::int64_t eval_every_or_throw(const CliTrainFlags& f) {
  if (!f.eval_every) return 0;
  train::check_int_range("--eval-every", *f.eval_every, 1, train::kMaxSteps);
  return *f.eval_every;
}

train::ResolvedRun resolve_flags(const CliTrainFlags& f) {
  train::RunSpec c = f.spec;
  // The named choices, each parsed once (the model first: the data set's message names it).
  c.model = train::model_or_throw(f.model);
  if (!f.data.empty()) c.data = train::data_set_or_throw(f.data, c.model);
  c.precision = train::precision_or_throw(f.precision);
  c.optimizer = train::optimizer_or_throw(f.optimizer);
  c.schedule = train::schedule_or_throw(f.schedule);
  c.master = train::master_or_throw(f.master);
  c.fp8_recipe = train::fp8_recipe_or_throw(f.fp8_recipe);
  c.fp8_format = train::fp8_format_or_throw(f.fp8_format);
  if (!f.loss_scale.empty()) c.loss_scale = train::loss_scale_or_throw(f.loss_scale);
  // The flags whose config field reads 0 as "not given": an explicit value must be in range as
  // given (0 included: `--batch 0` is an error, not the default).
  auto take = [](const char* flag, const std::optional<std::int64_t>& v, std::int64_t hi, auto& field) {
    if (!v) return;
    train::check_int_range(flag, *v, 1, hi);
    field = static_cast<std::remove_reference_t<decltype(field)>>(*v);
  };
  take("--epochs", f.epochs, train::kMaxEpochs, c.epochs);
  take("--steps", f.steps, train::kMaxSteps, c.steps);
  if (f.epochs && f.steps) throw Error("--epochs and --steps are mutually exclusive");
  take("--batch", f.batch, train::kMaxBatch, c.batch);
  take("--threads", f.threads, runtime::max_threads(), c.threads);
  take("--stop-after", f.stop_after, train::kMaxSteps, c.stop_after);
  take("--eval-batches", f.eval_batches, train::kMaxEvalBatches, c.eval_batches);
  if (f.lr) {
    train::check_real_range("--lr", *f.lr, 0, train::kMaxLr, true);
    c.lr = *f.lr;
  }
  if (f.stats_every) {
    if (*f.stats_every != -1 && (*f.stats_every < 1 || *f.stats_every > train::kMaxSteps))
      throw Error("--stats-every must be an integer in [1, " + std::to_string(train::kMaxSteps) + "], or -1 (off), got " +
                  std::to_string(*f.stats_every));
    c.stats_every = *f.stats_every;
  }
  c.seed = parse_seed(f.seed);
  if (!f.opt_level.empty()) c.opt_level = train::opt_level_or_throw(f.opt_level);
  return train::resolve(c);  // the ranges of the other flags, defaults and combinations
}

}  // namespace mixtrain::app
