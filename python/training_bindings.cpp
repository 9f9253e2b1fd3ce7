// Training runs from Python: train() and compare() take the CLI's training flags as keyword
// arguments (steps=, batch=, lr=, ...; the same names with '_' for '-') and return the run's
// summary as a dict; doctor() returns the numerics doctor's findings. They run the same code as
// `mixtrain train`, `compare` and `doctor` (train/trainer.h, train/doctor.h), with the GIL
// released while training.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "bindings.h"
#include "io/atomic_file.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "train/config.h"
#include "train/doctor.h"
#include "train/metrics.h"
#include "train/settings.h"
#include "train/trainer.h"

namespace mixtrain::python {
namespace {

using Setter = std::function<void(train::RunSpec&, train::RunControls&, const py::handle&)>;

std::int64_t as_int(const char* key, const py::handle& v) {
  if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v))
    throw py::type_error(std::string(key) + " must be an int, got " + type_name(v));
  return v.cast<std::int64_t>();
}
double as_float(const char* key, const py::handle& v) {
  if (!(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) || py::isinstance<py::bool_>(v))
    throw py::type_error(std::string(key) + " must be a number, got " + type_name(v));
  return v.cast<double>();
}
std::string as_str(const char* key, const py::handle& v) {
  if (!py::isinstance<py::str>(v)) throw py::type_error(std::string(key) + " must be a str, got " + type_name(v));
  return v.cast<std::string>();
}
bool as_bool(const char* key, const py::handle& v) {
  if (!py::isinstance<py::bool_>(v)) throw py::type_error(std::string(key) + " must be a bool, got " + type_name(v));
  return v.cast<bool>();
}
// The settings that use 0 for "not given" must be in range as given, as on the command line
// (apps/mixtrain/train_options.cpp): steps=0 is an error, not the default.
std::int64_t positive(const char* key, const py::handle& v, std::int64_t hi) {
  const std::int64_t x = as_int(key, v);
  train::check_int_range(key, x, 1, hi);
  return x;
}

// Every keyword train() and compare() accept besides model, precision and out.
const std::map<std::string, Setter>& option_table() {
  static const std::map<std::string, Setter> table = {
      {"data", [](auto& s, auto&, auto v) { s.data = train::data_set_or_throw(as_str("data", v), s.model); }},
      {"data_dir", [](auto& s, auto&, auto v) { s.data_dir = as_str("data_dir", v); }},
      {"data_path", [](auto& s, auto&, auto v) { s.data_path = as_str("data_path", v); }},
      {"opt_level", [](auto& s, auto&, auto v) { s.opt_level = train::opt_level_or_throw(as_str("opt_level", v)); }},
      {"epochs", [](auto& s, auto&, auto v) { s.epochs = positive("epochs", v, train::kMaxEpochs); }},
      {"steps", [](auto& s, auto&, auto v) { s.steps = positive("steps", v, train::kMaxSteps); }},
      {"batch", [](auto& s, auto&, auto v) { s.batch = positive("batch", v, train::kMaxBatch); }},
      {"lr", [](auto& s, auto&, auto v) {
         s.lr = as_float("lr", v);
         train::check_real_range("lr", s.lr, 0, train::kMaxLr, true);
       }},
      {"optimizer", [](auto& s, auto&, auto v) { s.optimizer = train::optimizer_or_throw(as_str("optimizer", v)); }},
      {"weight_decay", [](auto& s, auto&, auto v) { s.weight_decay = as_float("weight_decay", v); }},
      {"momentum", [](auto& s, auto&, auto v) { s.momentum = as_float("momentum", v); }},
      {"loss_scale", [](auto& s, auto&, auto v) {
         s.loss_scale = train::loss_scale_or_throw(py::isinstance<py::str>(v) ? as_str("loss_scale", v)
                                                                              : std::to_string(as_float("loss_scale", v)));
       }},
      {"init_scale", [](auto& s, auto&, auto v) { s.init_scale = as_float("init_scale", v); }},
      {"growth_interval", [](auto& s, auto&, auto v) { s.growth_interval = as_int("growth_interval", v); }},
      {"master", [](auto& s, auto&, auto v) { s.master = train::master_or_throw(as_str("master", v)); }},
      {"precision_map", [](auto& s, auto&, auto v) { s.precision_map = as_str("precision_map", v); }},
      {"fp8_recipe", [](auto& s, auto&, auto v) { s.fp8_recipe = train::fp8_recipe_or_throw(as_str("fp8_recipe", v)); }},
      {"fp8_format", [](auto& s, auto&, auto v) { s.fp8_format = train::fp8_format_or_throw(as_str("fp8_format", v)); }},
      {"schedule", [](auto& s, auto&, auto v) { s.schedule = train::schedule_or_throw(as_str("schedule", v)); }},
      {"warmup", [](auto& s, auto&, auto v) { s.warmup = as_float("warmup", v); }},
      {"clip", [](auto& s, auto&, auto v) { s.clip = as_float("clip", v); }},
      {"accumulate", [](auto& s, auto&, auto v) { s.accumulate = as_int("accumulate", v); }},
      {"seed", [](auto& s, auto&, auto v) {
         const std::int64_t x = as_int("seed", v);
         check(x >= 0, "seed must be a non-negative int, got " + std::to_string(x));
         s.seed = static_cast<std::uint64_t>(x);
       }},
      {"threads", [](auto& s, auto&, auto v) { s.threads = static_cast<int>(positive("threads", v, runtime::max_threads())); }},
      {"context", [](auto& s, auto&, auto v) { s.context = as_int("context", v); }},
      {"stats_every", [](auto& s, auto&, auto v) {
         const std::int64_t x = as_int("stats_every", v);
         if (x != -1) train::check_int_range("stats_every", x, 1, train::kMaxSteps);
         s.stats_every = x;
       }},
      {"eval_batches", [](auto& s, auto&, auto v) { s.eval_batches = positive("eval_batches", v, train::kMaxEvalBatches); }},
      {"stop_after", [](auto& s, auto&, auto v) { s.stop_after = positive("stop_after", v, train::kMaxSteps); }},
      {"resume", [](auto& s, auto&, auto v) { s.resume_dir = as_str("resume", v); }},
      {"quiet", [](auto& s, auto&, auto v) { s.quiet = as_bool("quiet", v); }},
      {"checkpoint_every", [](auto&, auto& c, auto v) { c.checkpoint_every = positive("checkpoint_every", v, train::kMaxSteps); }},
      {"checkpoint_keep", [](auto&, auto& c, auto v) {
         c.checkpoint_keep = static_cast<int>(positive("checkpoint_keep", v, 1'000'000));
       }},
  };
  return table;
}

std::string known_options() {
  std::string s;
  for (const auto& [k, _] : option_table()) s += (s.empty() ? "" : ", ") + k;
  return s;
}

// The run a call asks for: model, precision and out, then the keyword options (None means "not
// given"). Progress output is off unless quiet=False: it would interleave with a notebook's.
struct Request {
  train::RunSpec spec;
  train::RunControls controls;
};
Request request(const std::string& model, const std::string& out, const py::kwargs& options) {
  Request r;
  r.spec.model = train::model_or_throw(model);
  r.spec.quiet = true;
  check(!out.empty(), "out must name the run directory");
  r.spec.out_dir = out;
  for (const auto& [key, value] : options) {
    const std::string k = py::str(key);
    const auto it = option_table().find(k);
    if (it == option_table().end())
      throw py::type_error("unexpected keyword argument '" + k + "' (known: model, precision, out, " + known_options() + ")");
    if (!value.is_none()) it->second(r.spec, r.controls, value);
  }
  if (r.spec.epochs != 0 && r.spec.steps != 0) throw Error("epochs and steps are mutually exclusive");
  return r;
}

nlohmann::json run(const train::ResolvedRun& rc, const train::RunControls& controls) {
  py::gil_scoped_release unlocked;  // the run touches no Python object
  return train::run_training(rc, controls);
}

py::object train_run(const std::string& model, const std::string& precision, const std::string& out,
                     const py::kwargs& options) {
  Request r = request(model, out, options);
  r.spec.precision = train::precision_or_throw(precision);
  return to_python(run(train::resolve(r.spec), r.controls));
}

py::object compare_runs(const std::string& model, const std::vector<std::string>& precisions, const std::string& out,
                        const py::kwargs& options) {
  check(!precisions.empty(), "precisions is empty");
  const Request base = request(model, out, options);
  // Every setting is validated before the first run spends time, as `mixtrain compare` does.
  std::vector<train::ResolvedRun> runs;
  for (std::size_t i = 0; i < precisions.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j)
      check(precisions[i] != precisions[j], "precisions lists '" + precisions[i] + "' twice (each run writes out/<precision>/)");
    train::RunSpec one = base.spec;
    one.precision = train::precision_or_throw(precisions[i]);
    one.out_dir = out + "/" + precisions[i];
    runs.push_back(train::resolve(one));
  }
  nlohmann::json all = nlohmann::json::array();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    nlohmann::json s = run(runs[i], base.controls);
    s["name"] = precisions[i];
    all.push_back(std::move(s));
  }
  // The same DIR/summary.json as `mixtrain compare` (which also renders report.html).
  const nlohmann::json result{{"schema_version", train::metrics::kSchemaVersion}, {"runs", all}};
  const std::string text = result.dump(2) + "\n";
  io::write_file_atomic(out + "/summary.json", std::as_bytes(std::span(text.data(), text.size())));
  return to_python(result);
}

py::object doctor(const std::string& run_dir) {
  namespace d = train::doctor;
  const d::Run r = d::load_run(run_dir);
  // The object `mixtrain doctor --json` prints (severities and their counts included).
  return to_python(d::verdict_json(run_dir, r, d::diagnose(r)));
}

}  // namespace

void register_training(py::module_& m) {
  using namespace pybind11::literals;
  m.def("train", &train_run, "model"_a, "precision"_a = "fp32", py::kw_only(), "out"_a,
        "Trains `model` (mlp | cnn | resnet | gpt) in `precision` (fp32 | fp16 | bf16 | fp8 | auto | "
        "fp16-noscale | bf16-O3 | ...), writing the run directory `out` (checkpoints, metrics.jsonl, "
        "summary.json), and returns the summary as a dict. Keyword options are `mixtrain train`'s flags "
        "with '_' for '-': steps, epochs, batch, lr, optimizer, seed, data, data_dir, data_path, loss_scale, "
        "opt_level, eval_batches, stats_every, threads, checkpoint_every, resume, precision_map, quiet "
        "(default True), ...; None means the default. Raises mixtrain.Error for bad settings and "
        "mixtrain.Failure when the run fails (diverges, a write fails).");
  m.def("compare", &compare_runs, "model"_a, "precisions"_a = std::vector<std::string>{"fp32", "fp16", "bf16", "fp8"},
        py::kw_only(), "out"_a,
        "Trains the same model, seed and data order once per precision into out/<precision>/ and returns "
        "{'schema_version', 'runs': [summary, ...]} (each summary with its 'name'), also written to out/summary.json. Options as "
        "for train; `mixtrain compare` on the command line also renders report.html.");
  m.def("doctor", &doctor, "run_dir"_a,
        "Diagnoses a run directory's numerics (NaN or runaway loss, loss-scale collapse, skipped steps, fp16 "
        "underflow per layer, lost O3 updates, memory) and returns what `mixtrain doctor --json` prints: "
        "{'run', 'finished', 'steps', 'findings': [{'rule', 'title', 'evidence', 'layers', 'recommendation', ...}]}.");
}

}  // namespace mixtrain::python
