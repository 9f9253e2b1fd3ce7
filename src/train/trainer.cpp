// The loop: setup, the steps with their metrics and periodic checkpoints, the final commit. Each
// part lives in its own file (train/session.h lists them).
#include "train/trainer.h"

#include "backend/kernels.h"
#include "runtime/error.h"
#include "train/progress.h"
#include "train/run_recorder.h"
#include "train/session.h"

namespace mixtrain::train {
namespace {

// Ten non-finite losses in a row: the run will not recover, and stopping keeps the last
// committed checkpoint as the place to resume from with other settings.
void check_divergence(const Session& s, const RunTally& t, std::int64_t step) {
  if (t.nonfinite_streak < 10) return;
  throw Failure("training diverged: the loss is non-finite for 10 consecutive steps (at step " + std::to_string(step) +
                ", lr " + std::to_string(s.run.spec.lr) + "); lower --lr" +
                (s.run.scale.mode == amp::ScaleMode::dynamic ? " or --init-scale" : "") +
                " (the last checkpoint committed before this point is kept)");
}

void show_progress(Session& s, Progress& progress, const StepOutcome& o) {
  if (s.run.spec.quiet) return;
  for (const auto& e : o.events)
    progress.note("autopilot: step " + std::to_string(e.step) + " " + e.layer + " " + std::string(name(e.from)) + " -> " +
                  std::string(name(e.to)) + " (" + e.reason + ")");
  const double accuracy = o.record.accuracy.value_or(-1.0);
  progress.update(o.record.step + 1, {o.record.loss, accuracy,
                                      s.run.scale.mode == amp::ScaleMode::disabled ? 0.0 : s.scaler.get_scale(),
                                      s.scaler.state().skipped_steps()});
}

}  // namespace

nlohmann::json run_training(const ResolvedRun& run, const RunControls& controls) {
  std::unique_ptr<Session> session = open_session(run, controls);
  Session& s = *session;
  RunRecorder recorder(s);
  Progress progress(run.label + " " + std::string(to_string(run.spec.model)), s.total, s.task->samples_per_step());
  RunTally tally;
  tally.losses = s.carried.losses;
  backend::kernels().reset_gemm_flops();
  if (controls.profile) tally.profiler.emplace();
  for (std::int64_t step = s.start; step < s.end; ++step) {
    const StepOutcome o = run_step(s, tally, step);
    check_divergence(s, tally, step);
    recorder.step(o);
    tally.precision_events += static_cast<std::int64_t>(o.events.size());
    show_progress(s, progress, o);
    // Periodic checkpoints (the one at `end` is the final commit below).
    if (s.run_dir && controls.checkpoint_every > 0 && (step + 1) % controls.checkpoint_every == 0 && step + 1 < s.end)
      recorder.commit(step + 1, summarize(s, tally, step + 1, false));
  }
  progress.finish();
  const nlohmann::json summary = summarize(s, tally, s.end, true);
  recorder.commit(s.end, summary);
  recorder.close();
  return summary;
}

}  // namespace mixtrain::train
