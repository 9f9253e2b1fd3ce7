// `mixtrain compare`: the same model, seed and data order in several precisions; prints a table
// (nothing with --quiet) and writes DIR/<precision>/ (each run), DIR/summary.json and
// DIR/report.html (docs/OUTPUTS.md).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "io/atomic_file.h"
#include "train/metrics.h"
#include "numerics/stats.h"
#include "train/report.h"
#include "train/trainer.h"
#include "train_options.h"

namespace mixtrain::app {
namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string mib(double bytes) { return fmt("%.1f MiB", bytes / 1048576.0); }

void add_numerics(train::ReportRun& r, const train::metrics::StepRecord& p) {
  // The last sample's numerics replace the earlier ones.
  r.sampled_step = p.step;
  r.numerics.clear();
  auto rows = [&](const std::vector<train::metrics::TensorStats>& v, const char* kind) {
    for (const auto& e : v)
      r.numerics.push_back({kind, e.param, e.dtype.empty() ? p.stats_dtype : e.dtype, e.amax < 0 ? NAN : e.amax, e.overflow,
                            e.subnormal, e.flush});
  };
  rows(p.weights, "weight");
  rows(p.grads, "weight grad");
  rows(p.acts, "activation grad");
  for (const auto& g : p.grads) {
    auto& h = r.grad_exponents[g.param];
    for (const auto& [e, cnt] : g.hist) {
      const int bin = e - numerics::kHistMinExponent;
      if (bin >= 0 && bin < numerics::kHistBins) h[static_cast<std::size_t>(bin)] += cnt;
    }
  }
}

// Builds the report's view of one run from its metrics and summary.
train::ReportRun report_run(const std::string& name, const std::string& dir, const nlohmann::json& summary) {
  train::ReportRun r;
  r.name = name;
  const std::string path = dir + "/metrics.jsonl";
  std::istringstream in(io::read_text_file(path));
  const train::metrics::MetricsLog log = train::metrics::read_metrics(in, "compare: " + path);
  for (const auto& e : log.precision_events) r.precision_events.push_back({e.step, e.layer, e.from, e.to});
  r.scaled = log.config && !log.config->loss_scale.empty() && log.config->loss_scale != "none";
  double seconds = 0;
  bool timed = true;
  for (const auto& p : log.steps) {
    if (std::isfinite(p.loss)) r.train_loss.push_back({p.step, p.loss});
    if (p.accuracy) r.train_accuracy.push_back({p.step, *p.accuracy});
    r.lr.push_back({p.step, p.lr});
    timed = timed && p.ms.has_value();
    if (timed) {
      seconds += *p.ms / 1000.0;
      r.seconds.push_back({p.step, seconds});
    }
    r.loss_scale.push_back({p.step, p.loss_scale});
    if (p.skipped) r.skipped_steps.push_back(p.step);
    r.steps = std::max(r.steps, p.step + 1);
    if (!p.autopilot_probe.is_null() && r.initial_precision.empty()) r.initial_precision = train::metrics::probe_dtypes(p);
    if (p.sampled) add_numerics(r, p);
  }
  if (!timed) r.seconds.clear();
  for (const auto& e : log.evals) {
    if (std::isfinite(e.loss)) r.eval_loss.push_back({e.step, e.loss});
    if (e.accuracy) r.eval_accuracy.push_back({e.step, *e.accuracy});
  }
  for (const auto& [k, v] : summary["peak_bytes"].items())
    if (k != "total" && v.is_number_integer() && v.get<std::int64_t>() > 0) r.peak_bytes[k] = v.get<std::int64_t>();
  r.peak_total = summary["peak_bytes"].value("total", std::int64_t{0});
  return r;
}

}  // namespace

void register_compare(CLI::App& app) {
  auto f = std::make_shared<CliTrainFlags>();
  auto precisions = std::make_shared<std::string>("fp32,fp16,bf16,fp8");
  CLI::App* cmd = app.add_subcommand("compare", "Train the same model in several precisions and write a report");
  add_train_flags(cmd, *f, TrainFlagSet{.precision = false, .stop_after = false});
  cmd->add_option("--precisions", *precisions, "comma-separated: fp32,fp16,bf16,fp8[,fp16-noscale,bf16-O3,auto,...]")->group(kGroupPrecision);
  cmd->add_option("--out", f->spec.out_dir, "output directory: DIR/<precision>/ per run, DIR/summary.json, DIR/report.html")
      ->required()->group(kGroupOutput);
  cmd->callback([f, precisions] {
    const bool quiet = f->spec.quiet;  // --quiet: the table is in summary.json and the report
    train::RunControls controls;
    controls.eval_every = eval_every_or_throw(*f);
    const auto list = split(*precisions);
    check(!list.empty(), "--precisions is empty");
    for (std::size_t i = 0; i < list.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        check(list[i] != list[j], "--precisions lists '" + list[i] + "' twice (each run writes DIR/<precision>/)");
    // Validate every setting before spending time on the first.
    std::vector<train::ResolvedRun> configs;
    for (const auto& p : list) {
      CliTrainFlags one = *f;
      one.precision = p;
      one.spec.out_dir = f->spec.out_dir + "/" + p;
      configs.push_back(resolve_flags(one));
    }
    std::vector<nlohmann::json> summaries;
    std::vector<train::ReportRun> runs;
    for (const auto& rc : configs) {
      const std::string precision(train::to_string(rc.spec.precision));
      if (!quiet) std::fprintf(stderr, "== %s (%s)\n", precision.c_str(), rc.policy.describe().c_str());
      summaries.push_back(train::run_training(rc, controls));
      runs.push_back(report_run(precision, rc.spec.out_dir, summaries.back()));
    }
    const bool lm = summaries[0].contains("val_loss");
    const char* eval_key = lm ? "val_loss" : "test_loss";
    const double base_loss = summaries[0].value(eval_key, NAN);
    const double base_acc = summaries[0].value("test_accuracy", NAN);
    if (!quiet)
      std::printf("%-14s %12s %12s %10s %10s %10s %12s %8s\n", "precision", "train loss", lm ? "val loss" : "test loss",
                  lm ? "" : "accuracy", lm ? "d loss" : "d acc", "ms/step", "peak mem", "skipped");
    train::ReportOptions ropt;
    ropt.title = "mixtrain compare: " + f->model;
    ropt.summary_columns = {"final train loss", lm ? "val loss" : "test loss", "accuracy", lm ? "Δ loss vs fp32" : "Δ acc vs fp32",
                            "ms/step", "peak memory", "skipped steps", "final loss scale"};
    nlohmann::json all = nlohmann::json::array();
    for (std::size_t i = 0; i < summaries.size(); ++i) {
      const auto& s = summaries[i];
      const double loss = s.value(eval_key, NAN), acc = s.value("test_accuracy", NAN);
      const double delta = lm ? loss - base_loss : 100.0 * (acc - base_acc);
      if (!quiet)
        std::printf("%-14s %12.4f %12.4f %10s %10s %10.1f %12s %8lld\n", list[i].c_str(), s.value("final_train_loss", NAN), loss,
                    lm ? "" : fmt("%.2f%%", 100 * acc).c_str(), fmt(lm ? "%+.4f" : "%+.2f", delta).c_str(),
                    s.value("ms_per_step", NAN), mib(s["peak_bytes"].value("total", 0.0)).c_str(),
                    static_cast<long long>(s.value("skipped_steps", 0)));
      auto& sm = runs[i].summary;
      sm["final train loss"] = fmt("%.4f", s.value("final_train_loss", NAN));
      sm[lm ? "val loss" : "test loss"] = fmt("%.4f", loss);
      sm["accuracy"] = lm ? "" : fmt("%.2f%%", 100 * acc);
      sm[lm ? "Δ loss vs fp32" : "Δ acc vs fp32"] = fmt(lm ? "%+.4f" : "%+.2f", delta);
      sm["ms/step"] = fmt("%.1f", s.value("ms_per_step", NAN));
      sm["peak memory"] = mib(s["peak_bytes"].value("total", 0.0));
      sm["skipped steps"] = std::to_string(s.value("skipped_steps", 0));
      sm["final loss scale"] = fmt("%g", s.value("final_loss_scale", 1.0));
      nlohmann::json e = s;
      e["name"] = list[i];
      all.push_back(e);
    }
    const std::string html = train::render_report(runs, ropt);
    io::write_file_atomic(f->spec.out_dir + "/report.html", std::as_bytes(std::span(html.data(), html.size())));
    const std::string js = nlohmann::json{{"schema_version", train::metrics::kSchemaVersion}, {"runs", all}}.dump(2) + "\n";
    io::write_file_atomic(f->spec.out_dir + "/summary.json", std::as_bytes(std::span(js.data(), js.size())));
    if (!quiet) std::printf("report: %s/report.html\n", f->spec.out_dir.c_str());
  });
}

}  // namespace mixtrain::app
