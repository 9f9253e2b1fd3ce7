// One optimizer step. Its metrics record holds only values that are a deterministic function of
// (config, step), except the "ms" field, so runs (and resumed runs) compare line by line.
#include <chrono>
#include <cmath>

#include "amp/autocast.h"
#include "ops/elementwise.h"
#include "train/session.h"
#include "train/stats_sampling.h"

namespace mixtrain::train {
namespace {

// The forward and backward of every micro-batch; returns the mean loss and accuracy.
struct Losses {
  double loss = 0, accuracy = 0;
  bool finite = true;
};
Losses forward_backward(Session& s, std::int64_t step, StatsSampler* sampler) {
  const std::int64_t micros = s.run.spec.accumulate;
  Losses out;
  for (std::int64_t micro = 0; micro < micros; ++micro) {
    Tensor loss;
    double acc = -1;
    {
      amp::Autocast guard(s.policy);
      loss = s.task->loss(step, micro, micros, &acc);
    }
    const double lv = loss.item();
    out.finite = out.finite && std::isfinite(lv);
    out.loss += lv;
    out.accuracy += acc;
    if (micros > 1) loss = ops::scale(loss, 1.0 / static_cast<double>(micros));
    s.scaler.scale(loss).backward();
    if (sampler) sampler->next_micro();
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
