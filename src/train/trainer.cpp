// The loop: setup, the steps with their metrics and periodic checkpoints, the final commit. Each
// part lives in its own file (train/session.h lists them).
#include "train/trainer.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "backend/kernels.h"
#include "dist/communicator.h"
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

std::string describe(const metrics::EvalRecord& e) {
  char b[160];
  int n = std::snprintf(b, sizeof b, "eval after step %lld: %s loss %.4f", static_cast<long long>(e.step), e.split.c_str(), e.loss);
  if (e.accuracy) std::snprintf(b + n, sizeof b - static_cast<std::size_t>(n), ", accuracy %.2f%%", 100 * *e.accuracy);
  return b;
}

// Held-out evaluations: every --eval-every completed steps and once at the end, each an eval line
// of the metrics. One result per step count, so the end reuses a periodic one at the same step.
class Evaluations {
 public:
  Evaluations(Session& s, RunTally& t, RunRecorder& rec, Progress& p) : s_(s), t_(t), rec_(rec), progress_(p) {}

  // After `done` steps of the loop (done < s.total: the last one is the final evaluation's).
  void after(std::int64_t done) {
    const auto every = s_.controls.eval_every;
    if (s_.controls.evaluate && every > 0 && done % every == 0 && done < s_.total) run(done, true);
  }
  // The evaluation for the summary at the end of this process's steps; an eval line only when the
  // run is complete (a --stop-after end is not a step the uninterrupted run evaluates at).
  std::optional<EvalResult> at_end(std::int64_t done) {
    if (!s_.controls.evaluate) return std::nullopt;
    if (last_step_ == done) return last_;
    run(done, done == s_.total);
    return last_;
  }

 private:
  void run(std::int64_t done, bool record) {
    last_ = evaluate_held_out(s_, t_);
    last_step_ = done;
    if (!record) return;
    const metrics::EvalRecord e = eval_record(s_, t_, done, *last_);
    rec_.eval(e);
    if (!s_.run.spec.quiet) progress_.note(describe(e));
  }
  Session& s_;
  RunTally& t_;
  RunRecorder& rec_;
  Progress& progress_;
  std::optional<EvalResult> last_;
  std::int64_t last_step_ = -1;
};

// Before a checkpoint commit (a collective under mpirun, so every rank calls it): a sharded
// optimizer's state is gathered whole on rank 0, which alone writes.
void gather_for_commit(Session& s) {
  if (s.dp && s.opt->sharded()) s.gathered_state = s.dp->gather_state(*s.opt);
}

// MIXTRAIN_FAULT_RANK_STEP=R:S makes rank R fail at step S: how the tests check that one rank's
// failure ends the whole job (docs/DISTRIBUTED.md, "Faults") rather than leaving it waiting.
void injected_fault(const Session& s, std::int64_t step) {
  const char* v = std::getenv("MIXTRAIN_FAULT_RANK_STEP");
  if (v == nullptr) return;
  int rank = -1;
  long long at = -1;
  if (std::sscanf(v, "%d:%lld", &rank, &at) == 2 && rank == (s.dp ? s.dp->rank() : 0) && at == step)
    throw Failure("injected fault at step " + std::to_string(step) + " (MIXTRAIN_FAULT_RANK_STEP)");
}

// The data-parallel part of the summary: ranks, and this rank's time in collectives and bytes sent.
void add_distributed(const Session& s, nlohmann::json& summary, std::int64_t steps) {
  if (!s.dp) return;
  // comm_s counts the time in collectives, waiting for slower ranks included.
  summary["distributed"] = {{"ranks", s.dp->size()}, {"sharded_optimizer", s.opt->sharded()},
                            {"comm_s", s.dp->comm_seconds()},
                            {"comm_ms_per_step", steps > 0 ? 1000.0 * s.dp->comm_seconds() / static_cast<double>(steps) : 0.0},
                            {"bytes_sent_per_step", steps > 0 ? s.dp->bytes_sent() / steps : 0}};
}

}  // namespace

nlohmann::json run_training(const ResolvedRun& run_in, const RunControls& controls_in) {
  // Under mpirun only rank 0 writes files, evaluates and prints; the others train silently.
  ResolvedRun run = run_in;
  RunControls controls = controls_in;
  if (dist::world().rank() != 0) {
    run.spec.quiet = true;
    controls.write_files = false;
    controls.evaluate = false;
  }
  std::unique_ptr<Session> session = open_session(run, controls);
  Session& s = *session;
  RunRecorder recorder(s);
  Progress progress(run.label + " " + std::string(to_string(run.spec.model)), s.total, s.task->samples_per_step(),
                    s.task->steps_per_epoch(), s.start);
  RunTally tally;
  tally.losses = s.carried.losses;
  Evaluations evals(s, tally, recorder, progress);
  backend::kernels().reset_gemm_flops();
  if (controls.profile) tally.profiler.emplace();
  for (std::int64_t step = s.start; step < s.end; ++step) {
    injected_fault(s, step);
    const StepOutcome o = run_step(s, tally, step);
    check_divergence(s, tally, step);
    recorder.step(o);
    tally.precision_events += static_cast<std::int64_t>(o.events.size());
    show_progress(s, progress, o);
    evals.after(step + 1);
    // Periodic checkpoints (the one at `end` is the final commit below).
    if (controls_in.write_files && controls.checkpoint_every > 0 && (step + 1) % controls.checkpoint_every == 0 && step + 1 < s.end) {
      gather_for_commit(s);
      recorder.commit(step + 1, summarize(s, tally, step + 1, nullptr));
    }
  }
  progress.finish();
  const std::optional<EvalResult> ev = evals.at_end(s.end);
  nlohmann::json summary = summarize(s, tally, s.end, ev ? &*ev : nullptr);
  add_distributed(s, summary, s.end - s.start);
  if (controls_in.write_files) gather_for_commit(s);
  recorder.commit(s.end, summary);
  recorder.close();
  return summary;
}

}  // namespace mixtrain::train
