// One optimizer step. Its metrics record holds only values that are a deterministic function of
// (config, step), except the "ms" field, so runs (and resumed runs) compare line by line.
#include <chrono>
#include <cmath>
#include <vector>

#include "amp/autocast.h"
#include "ops/elementwise.h"
#include "train/session.h"
#include "train/stats_sampling.h"

namespace mixtrain::train {
namespace {

// The forward and backward of this process's micro-batches; returns the mean loss and accuracy
// over all of the step's micro-batches. Under mpirun the global batch has accumulate x ranks
// micro-batches and rank r runs micro-batches r*accumulate ... (r+1)*accumulate - 1 of them; the
// losses are gathered and summed in micro-batch order, as one process sums them.
struct Losses {
  double loss = 0, accuracy = 0;
  bool finite = true;
};
Losses forward_backward(Session& s, std::int64_t step, StatsSampler* sampler) {
  const std::int64_t local = s.run.spec.accumulate;
  const std::int64_t micros = local * (s.dp ? s.dp->size() : 1);
  const std::int64_t first = s.dp ? local * s.dp->rank() : 0;
  std::vector<double> losses, accuracies;
  for (std::int64_t micro = first; micro < first + local; ++micro) {
    Tensor loss;
    double acc = -1;
    {
      amp::Autocast guard(s.policy);
      loss = s.task->loss(step, micro, micros, &acc);
    }
    losses.push_back(loss.item());
    accuracies.push_back(acc);
    if (micros > 1) loss = ops::scale(loss, 1.0 / static_cast<double>(micros));
    s.scaler.scale(loss).backward();
    if (sampler) sampler->next_micro();
  }
  if (s.dp) {
    losses = s.dp->gather(losses);
    accuracies = s.dp->gather(accuracies);
  }
  Losses out;
  for (std::size_t i = 0; i < losses.size(); ++i) {
    out.finite = out.finite && std::isfinite(losses[i]);
    out.loss += losses[i];
    out.accuracy += accuracies[i];
  }
  out.loss /= static_cast<double>(micros);
  out.accuracy /= static_cast<double>(micros);
  return out;
}

}  // namespace

StepOutcome run_step(Session& s, RunTally& tally, std::int64_t step) {
  const auto t0 = std::chrono::steady_clock::now();
  const RunSpec& c = s.run.spec;
  s.opt->set_lr(s.schedule.at(step));
  const bool sample = c.stats_every >= 0 && (step % s.stats_every == 0 || step + 1 == s.total);
  const bool probe = s.pilot && s.pilot->probe_step(step);
  if (probe) s.pilot->arm();
  std::optional<StatsSampler> sampler;
  if (sample) sampler.emplace();
  // Sampled steps are not timed op by op: sampling would count as the ops' time.
  const bool profiled = tally.profiler && !sample && step - s.start >= s.controls.warmup_steps_excluded;
  if (profiled) tally.profiler->resume();
  const Losses l = forward_backward(s, step, sampler ? &*sampler : nullptr);
  // Every rank now holds the step's summed gradients, bit for bit; what follows (statistics,
  // unscale and its found-inf check, the clipping norm) therefore agrees across ranks.
  if (s.dp) s.dp->reduce_gradients();
  StepOutcome out;
  metrics::StepRecord& rec = out.record;
  rec.step = step;
  rec.loss = l.loss;
  rec.loss_scale = s.scaler.get_scale();
  if (l.accuracy >= 0) rec.accuracy = l.accuracy;
  if (sampler) sampler->finish(s.task->model(), s.policy.low == DType::fp32 ? DType::fp16 : s.policy.low, rec);
  s.scaler.unscale(*s.opt);
  if (c.clip > 0) {
    const double norm = optim::clip_grad_norm(*s.opt, c.clip);
    if (norm >= 0) rec.grad_norm = norm;  // a NaN norm is left out, as the scaler skips that step
  }
  rec.skipped = !s.scaler.step(*s.opt);
  // ZeRO-1: each rank updated its chunk; the others' updated weights come from them.
  if (s.dp && s.opt->sharded() && !rec.skipped) s.dp->gather_parameters();
  s.scaler.update();
  s.opt->zero_grad();
  rec.lr = s.opt->lr();
  if (profiled) {
    tally.profiler->mark("(optimizer and loss scaling)");
    tally.profiler->pause();
    ++tally.profiled_steps;
  }
  if (probe) {
    out.events = s.pilot->finish_probe(step);
    rec.autopilot_probe = s.pilot->last_probe();
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  rec.ms = ms;
  if (step - s.start >= s.controls.warmup_steps_excluded) tally.step_ms.push_back(ms);
  tally.losses.push_back(l.loss);
  tally.last_accuracy = l.accuracy;
  tally.nonfinite_streak = l.finite ? 0 : tally.nonfinite_streak + 1;
  out.finite = l.finite;
  return out;
}

}  // namespace mixtrain::train
