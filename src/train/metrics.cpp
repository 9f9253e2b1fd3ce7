// The writer and reader of metrics.jsonl. Objects are nlohmann::json (keys sorted on output), so
// a line's bytes depend only on its values, never on the order fields are set here.
#include "train/metrics.h"

#include <algorithm>
#include <cmath>

#include "io/json_text.h"
#include "numerics/stats.h"
#include "runtime/error.h"

namespace mixtrain::train::metrics {
namespace {

// A value the JSON cannot hold (inf, NaN) is written as null.
nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double as_double(const nlohmann::json& j, double fallback) { return j.is_number() ? j.get<double>() : fallback; }

std::optional<double> optional_number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? std::optional<double>(it->get<double>()) : std::nullopt;
}

std::string string_or(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// A named choice read back: nullopt when absent, not a string or not a known name.
template <typename Parse>
auto choice(const nlohmann::json& j, const char* key, Parse parse) -> decltype(parse(std::string_view{})) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return parse(it->get<std::string>());
}

nlohmann::json tensor_json(const TensorStats& s) {
  nlohmann::json hist = nlohmann::json::object();
  for (const auto& [e, n] : s.hist) hist[std::to_string(e)] = n;
  nlohmann::json j{{"param", s.param}, {"hist", std::move(hist)}, {"overflow", s.overflow}, {"zeros", s.zeros},
                   {"subnormal", s.subnormal}, {"flush", s.flush}, {"amax", finite_or_null(s.amax)}};
  if (!s.dtype.empty()) j["dtype"] = s.dtype;
  if (!s.module.empty()) j["module"] = s.module;
  return j;
}

nlohmann::json tensors_json(const std::vector<TensorStats>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : v) a.push_back(tensor_json(s));
  return a;
}

std::vector<TensorStats> parse_tensors(const nlohmann::json& arr) {
  std::vector<TensorStats> out;
  for (const auto& e : arr) {
    TensorStats s;
    s.param = e.at("param").get<std::string>();
    s.overflow = e.value("overflow", 0.0);
    s.subnormal = e.value("subnormal", 0.0);
    s.flush = e.value("flush", 0.0);
    s.zeros = e.value("zeros", 0.0);
    s.dtype = e.value("dtype", "");
    s.module = e.value("module", "");
    // Absent: an older run (-1); null: written for a non-finite amax (NaN).
    s.amax = !e.contains("amax") ? -1.0 : as_double(e["amax"], NAN);
    if (e.contains("hist"))
      for (const auto& [k, v] : e["hist"].items()) {
        const std::optional<int> exponent = numerics::parse_exponent_key(k);
        if (!exponent)
          throw Error("histogram key '" + io::printable(k, 40) + "' of " + s.param + " is not an exponent in [-1100, 1100]");
        if (!v.is_number_unsigned()) throw Error("histogram count of exponent " + k + " of " + s.param + " is not a non-negative integer");
        s.hist.emplace_back(*exponent, v.get<std::uint64_t>());
      }
    std::sort(s.hist.begin(), s.hist.end());
    out.push_back(std::move(s));
  }
  return out;
}

StepRecord parse_step(const nlohmann::json& j) {
  StepRecord p;
  p.step = io::json_int(j, "step", 0, std::int64_t{1} << 40);
  p.loss = as_double(j.at("loss"), NAN);
  p.lr = as_double(j.value("lr", nlohmann::json()), 0.0);
  p.loss_scale = as_double(j.value("loss_scale", nlohmann::json()), 1.0);
  p.skipped = j.value("skipped", false);
  p.accuracy = optional_number(j, "accuracy");
  p.grad_norm = optional_number(j, "grad_norm");
  p.ms = optional_number(j, "ms");
  if (j.contains("autopilot_probe")) p.autopilot_probe = j["autopilot_probe"];
  if (!j.contains("grad_stats")) return p;
  p.sampled = true;
  p.grads = parse_tensors(j["grad_stats"]);
  if (j.contains("weight_stats")) p.weights = parse_tensors(j["weight_stats"]);
  if (j.contains("act_grad_stats")) p.acts = parse_tensors(j["act_grad_stats"]);
  p.stats_dtype = j.value("stats_dtype", "");
  p.grad_amax = as_double(j.value("grad_amax", nlohmann::json()), NAN);
  if (j.contains("headroom_log2") && j["headroom_log2"].is_number()) {
    // log2 of a ratio of finite floats: |x| < 2100. Larger is not a headroom (and would overflow
    // the doctor's integer arithmetic).
    p.headroom_log2 = j["headroom_log2"].get<double>();
    if (!(std::fabs(*p.headroom_log2) < 4096)) throw Error("'headroom_log2' is out of range");
  }
  return p;
}

// Adds one parsed line to the log; false for a line of a type this reader does not know.
void add_line(MetricsLog& log, const nlohmann::json& j) {
  const std::string type = j.contains("type") ? j["type"].get<std::string>() : "";
  if (type == "config") {
    log.config = config_from_json(j.value("config", nlohmann::json::object()));
    log.policy = string_or(j, "policy");
    const auto v = j.find("schema_version");
    log.schema_version = v != j.end() && v->is_number_integer() ? v->get<int>() : 0;
  } else if (type == "eval") {
    EvalRecord e;
    e.step = io::json_int(j, "step", 0, std::int64_t{1} << 40);
    e.split = string_or(j, "split");
    e.loss = as_double(j.value("loss", nlohmann::json()), NAN);
    e.accuracy = optional_number(j, "accuracy");
    e.elapsed_s = optional_number(j, "elapsed_s");
    log.evals.push_back(std::move(e));
  } else if (type == "precision") {
    log.precision_events.push_back({io::json_int(j, "step", 0, std::int64_t{1} << 40), j.value("layer", ""),
                                    j.value("from", ""), j.value("to", ""), j.value("reason", "")});
  } else if (type.empty() && j.contains("step")) {
    log.steps.push_back(parse_step(j));
  }
}

}  // namespace

nlohmann::json to_json(const ConfigRecord& c) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&j](const char* key, const auto& v) {
    if (v) j[key] = std::string(to_string(*v));
  };
  put("model", c.model);
  put("data", c.data);
  put("precision", c.precision);
  put("opt_level", c.opt_level);
  put("optimizer", c.optimizer);
  put("schedule", c.schedule);
  put("fp8_recipe", c.fp8_recipe);
  put("fp8_format", c.fp8_format);
  if (c.master) j["master"] = std::string(name(*c.master));
  j["label"] = c.label;
  j["batch"] = c.batch;
  j["lr"] = c.lr;
  j["seed"] = c.seed;
  j["context"] = c.context;
  j["precision_map"] = c.precision_map;
  if (!c.loss_scale.empty()) j["loss_scale"] = c.loss_scale;
  // Where the data came from, so that `eval` finds it again without repeating flags.
  if (!c.data_path.empty()) j["data_path"] = c.data_path;
  if (!c.data_dir.empty()) j["data_dir"] = c.data_dir;
  return j;
}

std::string config_line(const ConfigRecord& c, const std::string& policy) {
  return nlohmann::json{{"type", "config"}, {"schema_version", kSchemaVersion}, {"config", to_json(c)}, {"policy", policy}}.dump();
}

std::string step_line(const StepRecord& s) {
  nlohmann::json j{{"step", s.step}, {"loss", finite_or_null(s.loss)}, {"lr", s.lr}, {"loss_scale", s.loss_scale},
                   {"skipped", s.skipped}};
  if (s.accuracy) j["accuracy"] = *s.accuracy;
  if (s.grad_norm) j["grad_norm"] = *s.grad_norm;
  if (s.sampled) {
    j["grad_stats"] = tensors_json(s.grads);
    j["weight_stats"] = tensors_json(s.weights);
    j["act_grad_stats"] = tensors_json(s.acts);
    j["stats_dtype"] = s.stats_dtype;
    j["grad_amax"] = finite_or_null(s.grad_amax);
    j["headroom_log2"] = s.headroom_log2 ? nlohmann::json(*s.headroom_log2) : nlohmann::json(nullptr);
  }
  if (!s.autopilot_probe.is_null()) j["autopilot_probe"] = s.autopilot_probe;
  if (s.ms) j["ms"] = *s.ms;
  return j.dump();
}

std::string precision_line(const PrecisionRecord& p) {
  return nlohmann::json{{"type", "precision"}, {"step", p.step}, {"layer", p.layer},
                        {"from", p.from}, {"to", p.to}, {"reason", p.reason}}.dump();
}

std::string eval_line(const EvalRecord& e) {
  nlohmann::json j{{"type", "eval"}, {"step", e.step}, {"split", e.split}, {"loss", finite_or_null(e.loss)}};
  if (e.accuracy) j["accuracy"] = *e.accuracy;
  if (e.elapsed_s) j["elapsed_s"] = *e.elapsed_s;
  return j.dump();
}

PrecisionRecord record_of(const amp::PrecisionEvent& e) {
  return {e.step, e.layer, std::string(name(e.from)), std::string(name(e.to)), e.reason};
}

ConfigRecord config_from_json(const nlohmann::json& j) {
  ConfigRecord c;
  if (!j.is_object()) return c;
  c.model = choice(j, "model", parse_model);
  c.data = choice(j, "data", parse_data_set);
  c.precision = choice(j, "precision", parse_precision);
  c.opt_level = choice(j, "opt_level", parse_opt_level);
  c.optimizer = choice(j, "optimizer", parse_optimizer);
  c.schedule = choice(j, "schedule", parse_schedule);
  c.fp8_recipe = choice(j, "fp8_recipe", parse_fp8_recipe);
  c.fp8_format = choice(j, "fp8_format", parse_fp8_format);
  c.master = choice(j, "master", numerics::parse_dtype);
  c.label = string_or(j, "label");
  c.precision_map = string_or(j, "precision_map");
  c.loss_scale = string_or(j, "loss_scale");
  c.data_path = string_or(j, "data_path");
  c.data_dir = string_or(j, "data_dir");
  const auto integer = [&j](const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  };
  c.batch = integer("batch");
  c.context = integer("context");
  c.lr = as_double(j.value("lr", nlohmann::json()), 0.0);
  c.seed = j.contains("seed") && j["seed"].is_number_unsigned() ? j["seed"].get<std::uint64_t>() : 0;
  return c;
}

MetricsLog read_metrics(std::istream& in, const std::string& what) {
  MetricsLog log;
  std::int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = io::try_parse_json(line);
    const std::string where = what + " line " + std::to_string(n);
    if (j.is_discarded() || !j.is_object())
      throw Error(where + " is not a JSON object (or nests deeper than " + std::to_string(io::kMaxJsonDepth) + " levels)");
    try {
      add_line(log, j);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + " has a malformed field (" + io::printable(e.what()) + ")");
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
  return log;
}

std::map<std::string, std::string> probe_dtypes(const StepRecord& s) {
  std::map<std::string, std::string> out;
  if (!s.autopilot_probe.is_object()) return out;
  for (const auto& [layer, p] : s.autopilot_probe.items())
    out[layer] = p.is_object() ? string_or(p, "dtype") : "";
  return out;
}

CarriedLines carry_before(std::string_view all, std::int64_t start) {
  CarriedLines out;
  for (std::size_t pos = 0; pos < all.size();) {
    const std::size_t nl = std::min(all.find('\n', pos), all.size());
    const std::string_view line = all.substr(pos, nl - pos);
    pos = nl + 1;
    const auto j = io::try_parse_json(line);
    if (j.is_discarded() || !j.is_object()) continue;
    // Lines without a step (the config line) belong to the run before `start` too; an eval line's
    // step counts completed steps, so the one at `start` ran before the checkpoint was committed.
    const auto st = j.find("step");
    const std::int64_t step = st != j.end() && st->is_number_integer() ? st->get<std::int64_t>() : -1;
    const auto type = j.find("type");
    const bool eval = type != j.end() && *type == "eval";
    if (eval ? step > start : step >= start) continue;
    out.text.append(line).push_back('\n');
    const auto loss = j.find("loss");
    if (step >= 0 && !j.contains("type") && loss != j.end()) out.losses.push_back(loss->is_number() ? loss->get<double>() : NAN);
  }
  return out;
}

std::string resume_mismatch(const nlohmann::json& saved, const ConfigRecord& now) {
  const nlohmann::json n = to_json(now);
  for (const char* k : {"model", "precision", "opt_level", "batch", "optimizer", "seed"})
    if (saved.contains(k) && saved[k] != n[k])
      return std::string("resume: checkpoint was trained with ") + k + "=" + saved[k].dump() + ", this run has " + n[k].dump();
  return "";
}

}  // namespace mixtrain::train::metrics
