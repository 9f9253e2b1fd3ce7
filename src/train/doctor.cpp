// The doctor's parsing and rules. Every rule reads only the parsed Run, so tests construct runs
// directly; the numbers quoted in a finding are the ones its threshold was compared with.
#include "train/doctor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "io/json_text.h"
#include "numerics/stats.h"
#include "runtime/error.h"

namespace mixtrain::train::doctor {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string pct(double fraction) { return fmt("%.1f%%", 100.0 * fraction); }
std::string num(double v) { return fmt("%g", v); }
std::string mib(double bytes) { return fmt("%.1f MiB", bytes / 1048576.0); }

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

double as_double(const nlohmann::json& j, double fallback) {
  return j.is_number() ? j.get<double>() : fallback;
}

bool is_fp32_run(const Run& r) { return r.config.opt_level == amp::OptLevel::O0 || r.config.precision == Precision::fp32; }

// The run's precision as recorded ("" when the config line names none).
std::string precision_name(const Run& r) { return r.config.precision ? std::string(to_string(*r.config.precision)) : ""; }

std::uint64_t hist_total(const TensorStats& s) {
  std::uint64_t n = 0;
  for (const auto& [e, c] : s.hist) n += c;
  return n;
}

// Fraction of the histogram's (nonzero finite) values whose exponent satisfies pred.
template <typename Pred>
double hist_fraction(const TensorStats& s, Pred pred) {
  const std::uint64_t total = hist_total(s);
  if (total == 0) return 0;
  std::uint64_t n = 0;
  for (const auto& [e, c] : s.hist)
    if (pred(e)) n += c;
  return static_cast<double>(n) / static_cast<double>(total);
}

std::vector<const Point*> sampled(const Run& r) {
  std::vector<const Point*> out;
  for (const auto& p : r.points)
    if (p.sampled) out.push_back(&p);
  return out;
}

double final_scale(const Run& r) {
  return r.summary.contains("final_loss_scale") ? as_double(r.summary["final_loss_scale"], r.points.back().loss_scale)
                                                : r.points.back().loss_scale;
}

// fp16 run with no loss scaling at all: the underflow it shows has the simplest fix there is.
bool unscaled_fp16(const Run& r) {
  if (r.config.precision == Precision::fp16_noscale) return true;
  if (r.config.precision != Precision::fp16 && r.config.precision != Precision::fp16_O3) return false;
  if (!r.config.loss_scale.empty()) return r.config.loss_scale == "none";
  // Runs written before the config named the loss scaling: a scale of 1 throughout.
  return std::all_of(r.points.begin(), r.points.end(), [](const Point& p) { return p.loss_scale == 1 && !p.skipped; });
}

std::int64_t skipped_count(const Run& r) {
  std::int64_t n = 0;
  for (const auto& p : r.points) n += p.skipped;
  return n;
}

}  // namespace

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::problem: return "problem";
    case Severity::warning: return "warning";
    case Severity::note: break;
  }
  return "note";
}

std::string module_of(const std::string& param) {
  const auto dot = param.rfind('.');
  return dot == std::string::npos ? param : param.substr(0, dot);
}

Run parse_metrics(std::istream& in, const std::string& what) {
  metrics::MetricsLog log = metrics::read_metrics(in, what);
  Run r;
  if (log.config) r.config = std::move(*log.config);
  r.points = std::move(log.steps);
  return r;
}

Run load_run(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("doctor: no run directory at " + dir);
  // The committed metrics (train/run_dir.h) or, when newer, the metrics of a run that failed
  // (divergence) or is running or was killed: those are what a user asks the doctor about.
  const std::string committed = dir + "/metrics.jsonl";
  std::string path;
  fs::file_time_type newest{};
  for (const std::string& candidate : {committed, dir + "/failed.metrics.jsonl", dir + "/metrics.live.jsonl", committed + ".tmp"}) {
    if (!io::is_regular_file(candidate)) continue;
    const auto t = fs::last_write_time(candidate, ec);
    if (ec) continue;
    if (path.empty() || t > newest) {
      path = candidate;
      newest = t;
    }
  }
  if (path.empty()) throw Error("doctor: " + dir + " has no metrics.jsonl (not a training run directory)");
  std::istringstream in(io::read_text_file(path));
  Run r = parse_metrics(in, "doctor: " + path);
  r.finished = path == committed;
  if (r.points.empty()) throw Error("doctor: " + path + " records no training step");
  if (r.finished) {
    const std::string s = dir + "/summary.json";
    if (!io::is_regular_file(s)) throw Error("doctor: " + dir + " has metrics.jsonl but no summary.json (incomplete run directory)");
    r.summary = io::try_parse_json(io::read_text_file(s));
    if (r.summary.is_discarded() || !r.summary.is_object()) throw Error("doctor: " + s + " is not a JSON object");
  }
  return r;
}

std::vector<Finding> check_divergence(const Run& r, const Thresholds& t) {
  std::vector<const Point*> finite;
  for (const auto& p : r.points)
    if (std::isfinite(p.loss)) finite.push_back(&p);
  const std::size_t tail = std::max<std::size_t>(5, finite.size() / 10);
  if (finite.size() < 2 * tail) return {};
  const Point* best = finite.front();
  const Point* worst = finite.front();
  for (std::size_t i = 0; i + tail < finite.size(); ++i)
    if (finite[i]->loss < best->loss) best = finite[i];
  for (const auto* p : finite)
    if (p->step > best->step && p->loss > worst->loss) worst = p;
  double final_loss = 0;
  for (std::size_t i = finite.size() - tail; i < finite.size(); ++i) final_loss += finite[i]->loss;
  final_loss /= static_cast<double>(tail);
  if (!(best->loss > 0) || final_loss <= t.divergence_factor * best->loss) return {};
  Finding f;
  f.rule = "loss_diverged";
  f.title = "the loss diverged (it stayed finite, so no step was skipped)";
  f.evidence = "loss fell to " + num(best->loss) + " at step " + std::to_string(best->step) + ", rose to " + num(worst->loss) +
               " at step " + std::to_string(worst->step) + ", and the last " + std::to_string(tail) + " steps average " +
               num(final_loss) + " (" + num(final_loss / best->loss) + "x the best; threshold " + num(t.divergence_factor) + "x)";
  const bool fp8 = r.config.precision == Precision::fp8;
  if (fp8 && r.config.fp8_format == amp::Fp8Format::e4m3)
    f.recommendation = "the fp8 GEMMs take their output gradients in E4M3, whose range (2^17.8 with subnormals) loses the "
                       "small values of wide gradients such as a fused Q/K/V's: use --fp8-format hybrid (E5M2 gradients) or "
                       "--precision auto, which moves each layer whose operands leave fp8's range; else lower --lr (now " +
                       num(best->lr) + ") and clip (--clip 1.0)";
  else
    f.recommendation = "lower --lr (it was " + num(best->lr) + " at the best step) and clip gradients (--clip 1.0)" +
                       std::string(fp8 ? "; --precision auto keeps the layers whose operands leave fp8's range out of it" : "");
  return {f};
}

std::vector<Finding> check_nonfinite_loss(const Run& r, const Thresholds&) {
  std::int64_t bad = 0;
  const Point* first = nullptr;
  for (const auto& p : r.points)
    if (!std::isfinite(p.loss)) {
      ++bad;
      if (!first) first = &p;
    }
  if (bad == 0) return {};
  Finding f;
  f.rule = "nonfinite_loss";
  f.title = "the loss is NaN/inf";
  f.evidence = "loss non-finite at " + std::to_string(bad) + " of " + std::to_string(r.points.size()) +
               " steps, first at step " + std::to_string(first->step) + " (loss scale " + num(first->loss_scale) +
               ", lr " + num(first->lr) + ")";
  if (!r.finished) f.evidence += "; the run stopped at step " + std::to_string(r.points.back().step) + " without a summary";
  // Layers whose gradients were non-finite or overflowing in the samples up to the first bad step.
  for (const auto& p : r.points) {
    if (p.step > first->step) break;
    for (const auto& g : p.grads)
      if ((std::isnan(g.amax) || g.overflow > 0) &&
          std::find(f.layers.begin(), f.layers.end(), g.param) == f.layers.end())
        f.layers.push_back(g.param);
  }
  if (!f.layers.empty()) f.evidence += "; non-finite or overflowing gradients sampled in " + join(f.layers, ", ");
  // The loss is computed before it is scaled, so a non-finite loss comes from the forward pass:
  // either an applied update broke the weights, or activations overflow with the initial ones.
  const Point* prev = nullptr;
  for (const auto& p : r.points)
    if (p.step < first->step) prev = &p;
  if (prev && !prev->skipped) {
    f.recommendation = "step " + std::to_string(prev->step) + "'s applied update left weights that give a non-finite loss: lower --lr (now " +
                       num(prev->lr) + ") and clip gradients (--clip 1.0)";
    if (first->loss_scale > 1)
      f.recommendation += "; start the loss scale lower (--init-scale " + num(std::max(1.0, first->loss_scale / 256)) +
                          ") so that overflowing steps are skipped early rather than large ones applied";
  } else {
    f.recommendation = "the forward pass overflows before any update was applied (the loss scale does not enter it): keep the "
                       "overflowing layers in bf16 (--precision-map) or train in bf16; lower --lr and clip (--clip 1.0) if it "
                       "starts after a restart";
  }
  return {f};
}

std::vector<Finding> check_scale_collapse(const Run& r, const Thresholds& t) {
  const double init = r.points.front().loss_scale, last = final_scale(r);
  if (!(init > 1) || !(last <= init / t.collapse_factor || last <= 1)) return {};
  Finding f;
  f.rule = "scale_collapse";
  f.title = "the dynamic loss scale collapsed";
  std::int64_t skipped = 0;
  for (const auto& p : r.points) skipped += p.skipped;
  f.evidence = "loss scale fell from " + num(init) + " (2^" + num(std::log2(init)) + ") to " + num(last) + " (2^" +
               num(std::log2(std::max(last, 1e-300))) + ") over " + std::to_string(r.points.size()) + " steps, " +
               std::to_string(skipped) + " steps skipped";
  // Which layers overflow: the largest overflow fraction each parameter reached in a sample.
  std::map<std::string, std::pair<double, std::int64_t>> worst;
  std::map<std::string, double> amax;
  for (const auto* p : sampled(r))
    for (const auto& g : p->grads) {
      auto& w = worst[g.param];
      if (g.overflow > w.first || std::isnan(g.amax)) w = {std::max(g.overflow, w.first), p->step};
      if (g.amax > amax[g.param] || std::isnan(g.amax)) amax[g.param] = std::isnan(g.amax) ? INFINITY : g.amax;
    }
  std::vector<std::pair<std::string, std::pair<double, std::int64_t>>> over;
  for (const auto& [k, v] : worst)
    if (v.first > 0) over.push_back({k, v});
  std::sort(over.begin(), over.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::vector<std::string> parts;
  for (const auto& [k, v] : over) {
    f.layers.push_back(k);
    parts.push_back(k + " overflowing " + pct(v.first) + " at step " + std::to_string(v.second));
  }
  if (over.empty() && !amax.empty()) {
    // No sample caught an overflow: name the layer with the largest gradients (first to overflow).
    const auto top = std::max_element(amax.begin(), amax.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    f.layers.push_back(top->first);
    parts.push_back("no sampled step overflowed; the largest scaled gradient is " + top->first + "'s (amax " + num(top->second) + ")");
  }
  if (!parts.empty()) f.evidence += "; " + join(parts, ", ");
  std::vector<std::string> rules;
  for (const auto& l : f.layers) rules.push_back(module_of(l) + "=bf16");
  f.precision_map = join(rules, ",");
  f.recommendation = "gradients overflow fp16 even at a small scale: clip (--clip 1.0) or lower --lr";
  if (!f.precision_map.empty()) f.recommendation += ", or keep the overflowing layers in bf16 (--precision-map '" + f.precision_map + "')";
  f.recommendation += ", or train in bf16 (fp32's range)";
  return {f};
}

std::vector<Finding> check_skipped_steps(const Run& r, const Thresholds& t) {
  std::int64_t skipped = 0;
  for (const auto& p : r.points) skipped += p.skipped;
  const double frac = static_cast<double>(skipped) / static_cast<double>(r.points.size());
  if (!(frac > t.skipped_fraction)) return {};
  Finding f;
  f.severity = Severity::warning;
  f.rule = "skipped_steps";
  f.title = "many optimizer steps were skipped for inf/NaN gradients";
  f.evidence = std::to_string(skipped) + " of " + std::to_string(r.points.size()) + " steps skipped (" + pct(frac) +
               ", threshold " + pct(t.skipped_fraction) + ")";
  const double last = final_scale(r);
  f.recommendation = "each skipped step is lost work; start the scale where it settled (--init-scale " + num(std::max(1.0, last)) +
                     ") or lengthen --growth-interval so it grows back less eagerly";
  return {f};
}

std::vector<Finding> check_fp16_flush(const Run& r, const Thresholds& t) {
  const auto samples = sampled(r);
  if (samples.empty() || is_fp32_run(r)) return {};
  // Mean flush/subnormal fraction per parameter over the samples checked against fp16, and the
  // pooled exponent histogram (to size a loss scale).
  struct Acc {
    double flush = 0, subnormal = 0;
    double amax = 0;          // largest over the samples (scaled, as computed)
    bool amax_known = true;   // false for runs written before amax was recorded
    int n = 0;
    TensorStats pooled;
  };
  std::map<std::string, Acc> acc;
  std::map<std::string, std::string> module;  // key -> module for the precision map
  std::vector<std::string> order;
  double min_headroom = INFINITY;
  std::vector<double> scales;
  for (const auto* p : samples) {
    const std::string dt = p->stats_dtype.empty() ? precision_name(r).substr(0, 4) : p->stats_dtype;
    if (dt != "fp16") continue;
    scales.push_back(p->loss_scale);
    if (p->headroom_log2) min_headroom = std::min(min_headroom, *p->headroom_log2);
    // Weight gradients (checked against fp16), and activation gradients rounded to fp16.
    std::vector<const TensorStats*> all;
    for (const auto& g : p->grads) all.push_back(&g);
    for (const auto& g : p->acts)
      if (g.dtype.empty() || g.dtype == "fp16") all.push_back(&g);
    for (const auto* gp : all) {
      const TensorStats& g = *gp;
      if (!acc.count(g.param)) {
        order.push_back(g.param);
        module[g.param] = g.module.empty() ? module_of(g.param) : g.module;
      }
      auto& a = acc[g.param];
      a.flush += g.flush;
      a.subnormal += g.subnormal;
      if (g.amax < 0) a.amax_known = false;
      else a.amax = std::max(a.amax, std::isnan(g.amax) ? INFINITY : g.amax);
      ++a.n;
      for (const auto& h : g.hist) a.pooled.hist.push_back(h);
    }
  }
  // Underflow = flushed + subnormal: both are below fp16's normal range (2^-14), where a value
  // loses its significant bits or all of them. Activation gradients are stored already rounded,
  // so theirs is all subnormal (the flushed ones are zeros among the ReLU zeros by then).
  std::vector<std::pair<std::string, Acc>> bad;
  for (const auto& k : order) {
    auto& a = acc[k];
    a.flush /= a.n;
    a.subnormal /= a.n;
    // Underflow matters only where it reaches values that count next to the tensor's largest:
    // fp16's normal range ends at 2^-14, so with amax >= 2^(span - 14) everything that
    // underflows is below 2^-span of the maximum (a softmax gradient's confident classes, say).
    const bool relevant = !a.amax_known || a.amax < std::ldexp(1.0, t.relevant_span_log2 - 14);
    if (a.flush + a.subnormal >= t.underflow_fraction && relevant) bad.push_back({k, a});
  }
  if (bad.empty()) return {};
  std::stable_sort(bad.begin(), bad.end(), [](const auto& a, const auto& b) {
    return a.second.flush + a.second.subnormal > b.second.flush + b.second.subnormal;
  });
  Finding f;
  f.rule = "fp16_flush";
  f.title = "fp16 gradients underflow (flush to zero or go subnormal) in " + std::to_string(bad.size()) + " tensor" + (bad.size() > 1 ? "s" : "");
  std::sort(scales.begin(), scales.end());
  const double scale = scales[scales.size() / 2];
  std::vector<std::string> parts, rules;
  // Doublings k of the scale after which each flagged tensor has less than the threshold below
  // fp16's normal range: floor(log2|x|) <= -15 is below 2^-14, and x 2^k adds k to every
  // exponent. (Values that already flushed are not in the histogram, so this is a lower bound.)
  int need = 0;
  for (const auto& [k, a] : bad) {
    f.layers.push_back(k);
    parts.push_back(k + " " + pct(a.flush + a.subnormal) + " (" + pct(a.flush) + " flushed, " + pct(a.subnormal) + " subnormal)");
    const std::string& mod = module[k];
    if (mod != "model" && std::find(rules.begin(), rules.end(), mod + "=bf16") == rules.end()) rules.push_back(mod + "=bf16");
    int s = 0;
    while (s < 64 && hist_fraction(a.pooled, [s](int e) { return e + s <= -15; }) >= t.underflow_fraction) ++s;
    need = std::max(need, s);
  }
  f.evidence = "mean over " + std::to_string(scales.size()) + " samples at loss scale " + num(scale) + ": " + join(parts, "; ") +
               " (threshold " + pct(t.underflow_fraction) + ")";
  if (std::isfinite(min_headroom)) f.evidence += "; headroom before the largest gradient overflows: 2^" + fmt("%.1f", min_headroom);
  // Raise by the doublings needed, keeping one doubling below the measured overflow headroom.
  int raise = need;
  if (std::isfinite(min_headroom)) raise = std::min(raise, static_cast<int>(std::floor(min_headroom)) - 1);
  f.precision_map = join(rules, ",");
  // With no loss scaling at all the fix is the default (dynamic scaling): say that first.
  const bool noscale = unscaled_fp16(r);
  f.severity = noscale ? Severity::problem : Severity::warning;
  std::string rec;
  if (noscale) {
    rec = "use the default dynamic loss scaling (--precision fp16 without --loss-scale none), which keeps gradients above "
          "fp16's normal range; or ";
    if (raise > 0) rec += "a static --loss-scale " + num(std::ldexp(scale, raise)) + " (2^" + std::to_string(raise) + "), or ";
  } else if (raise > 0) {
    const double suggested = std::ldexp(scale, raise);
    rec = "raise the loss scale to " + num(suggested) + " (x2^" + std::to_string(raise) + ", within the measured headroom; "
          "--init-scale " + num(suggested) + " with dynamic scaling, or --loss-scale " + num(suggested) + "), or ";
  } else {
    rec = "the scale cannot rise without overflowing the largest gradients; ";
  }
  rec += "keep these layers in bf16 (fp32's range) or fp32: --precision-map '" + f.precision_map + "'";
  f.recommendation = rec;
  return {f};
}

std::vector<Finding> check_headroom(const Run& r, const Thresholds&) {
  // Skipped steps are the scaler at work (skipped_steps, scale_collapse say what to do).
  if (skipped_count(r) > 0) return {};
  const Point* worst = nullptr;
  int negative = 0, samples = 0;
  for (const auto* p : sampled(r)) {
    if (!p->headroom_log2) continue;
    ++samples;
    if (*p->headroom_log2 >= 0) continue;
    ++negative;
    if (!worst || *p->headroom_log2 < *worst->headroom_log2) worst = p;
  }
  if (!worst) return {};
  const double h = *worst->headroom_log2;
  const std::string dtype = worst->stats_dtype.empty() ? std::string("the low-precision format") : worst->stats_dtype;
  Finding f;
  f.rule = "headroom";
  // The gradients concerned: those that overflow the format in that sample, else the largest.
  const TensorStats* largest = nullptr;
  for (const auto& g : worst->grads) {
    if (g.overflow > 0) f.layers.push_back(g.param);
    if (!largest || g.amax > largest->amax) largest = &g;
  }
  if (f.layers.empty() && largest) f.layers.push_back(largest->param);
  f.evidence = "at step " + std::to_string(worst->step) + " the largest scaled gradient is 2^" + fmt("%.1f", -h) + " past " + dtype +
               "'s largest finite value (headroom 2^" + fmt("%.1f", h) + " at loss scale " + num(worst->loss_scale) + "); " +
               std::to_string(negative) + " of " + std::to_string(samples) + " samples had negative headroom and no step was skipped";
  if (is_fp32_run(r)) {
    f.severity = Severity::note;
    f.title = "gradients exceed " + dtype + "'s range: this run would overflow in " + dtype;
    f.recommendation = "nothing to fix in fp32; to train it in mixed precision use bf16 (fp32's range), or keep " +
                       join(f.layers, ", ") + " in bf16 or fp32 with --precision-map";
    return {f};
  }
  f.severity = Severity::warning;
  f.title = "gradients exceed " + dtype + "'s range although no step was skipped";
  // Weight gradients accumulate in fp32, so nothing overflowed yet; any tensor stored in the low
  // format at this scale would.
  if (worst->loss_scale > 1) {
    const double lower = std::max(1.0, std::ldexp(worst->loss_scale, static_cast<int>(std::floor(h)) - 1));
    f.recommendation = "start the loss scale lower: --init-scale " + num(lower) + " with dynamic scaling (or --loss-scale " + num(lower) +
                       "); the weight gradients are accumulated in fp32, so nothing overflowed yet, but any gradient stored in " +
                       dtype + " at this scale would";
  } else {
    std::vector<std::string> rules;
    for (const auto& l : f.layers) rules.push_back(module_of(l) + "=bf16");
    f.precision_map = join(rules, ",");
    f.recommendation = "clip the gradients (--clip 1.0) or keep the layers in bf16 (fp32's range): --precision-map '" + f.precision_map + "'";
  }
  return {f};
}

std::vector<Finding> check_lost_updates(const Run& r, const Thresholds& t) {
  if (r.config.opt_level != amp::OptLevel::O3 || r.config.precision == Precision::bf16_O3_sr) return {};
  const std::string prec = precision_name(r);
  std::vector<const Point*> fin;
  for (const auto& p : r.points)
    if (std::isfinite(p.loss)) fin.push_back(&p);
  if (fin.size() < 2) return {};
  const std::size_t w = std::max<std::size_t>(1, fin.size() / 5);
  double first = 0, last = 0, lr_last = 0;
  for (std::size_t i = 0; i < w; ++i) {
    first += fin[i]->loss;
    last += fin[fin.size() - w + i]->loss;
    lr_last += fin[fin.size() - w + i]->lr;
  }
  first /= static_cast<double>(w);
  last /= static_cast<double>(w);
  lr_last /= static_cast<double>(w);
  const double improvement = first != 0 ? (first - last) / std::fabs(first) : 0;
  const bool plateau = improvement < t.plateau_improvement && lr_last > 0;
  // AdamW moves each element by about lr; an element with floor(log2|w|) = e in a format with m
  // mantissa bits has half an ulp of 2^(e-m-1), so the step rounds away when lr < 2^(e-m-1).
  std::map<std::string, std::pair<double, int>> stalled;
  std::vector<std::string> order;
  if (r.config.optimizer == OptimizerKind::adamw)
    for (const auto* p : sampled(r)) {
      if (!(p->lr > 0)) continue;
      for (const auto& wt : p->weights) {
        // The dtype the weight is stored in (older runs: the run's low dtype, which O3 uses for all).
        const std::string dt = wt.dtype.empty() ? prec.substr(0, 4) : wt.dtype;
        const int m = dt == "bf16" ? 7 : dt == "fp16" ? 10 : -1;
        if (m < 0) continue;
        const double lim = std::log2(p->lr) + m + 1;
        const double frac = hist_fraction(wt, [lim](int e) { return e > lim; });
        if (!stalled.count(wt.param)) order.push_back(wt.param);
        stalled[wt.param].first += frac;
        ++stalled[wt.param].second;
      }
    }
  std::vector<std::string> parts, layers;
  for (const auto& k : order) {
    const double mean = stalled[k].first / stalled[k].second;
    if (mean >= t.stalled_fraction) {
      layers.push_back(k);
      parts.push_back(k + " " + pct(mean));
    }
  }
  if (!plateau && layers.empty()) return {};
  Finding f;
  f.rule = "lost_updates";
  f.title = "weight updates are lost without master weights (O3)";
  f.evidence = "loss " + num(first) + " -> " + num(last) + " between the first and last " + std::to_string(w) +
               " steps (improvement " + pct(improvement) + ", threshold " + pct(t.plateau_improvement) + ") while lr is " + num(lr_last);
  if (!layers.empty())
    f.evidence += "; elements whose AdamW step (about lr) is below half an ulp of the stored weight: " + join(parts, ", ");
  f.layers = layers;
  f.recommendation = "use O2 (fp32 master weights: --opt-level O2) or stochastic rounding of the updates (--precision " +
                     (prec.substr(0, 4) == "bf16" ? std::string("bf16-O3-sr") : std::string("bf16-O3-sr, bf16 O3 with stochastic rounding")) + ")";
  return {f};
}

std::vector<Finding> check_memory(const Run& r, const Thresholds& t) {
  if (is_fp32_run(r) || !r.summary.contains("peak_bytes") || !r.summary.contains("parameters")) return {};
  const auto& pb = r.summary["peak_bytes"];
  auto get = [&](const char* k) { return pb.contains(k) ? as_double(pb[k], 0) : 0.0; };
  const double params = as_double(r.summary["parameters"], 0);
  const double w = get("weights"), m = get("master_weights"), g = get("gradients"), o = get("optimizer_state"),
               a = get("activations"), s = get("workspace");
  const double mixed = w + m + g + o + a + s;
  // A generous fp32 estimate of the same run: fp32 weights, no masters, the same gradients and
  // optimizer state (both fp32 already), activations twice as large. Real fp32 activations are
  // at most that, so the saving computed here is an upper bound.
  const double fp32 = 4 * params + g + o + 2 * a + s;
  if (!(fp32 > 0)) return {};
  const double saving = 1 - mixed / fp32;
  if (saving >= t.min_memory_saving) return {};
  const std::pair<const char*, double> cats[] = {{"weights", w}, {"master_weights", m}, {"gradients", g},
                                                 {"optimizer_state", o}, {"activations", a}, {"workspace", s}};
  const auto* top = std::max_element(std::begin(cats), std::end(cats), [](const auto& x, const auto& y) { return x.second < y.second; });
  Finding f;
  f.severity = Severity::note;
  f.rule = "memory";
  f.title = "mixed precision does not reduce memory here";
  f.evidence = "peak " + mib(mixed) + " (sum of category peaks) vs about " + mib(fp32) + " estimated for fp32 (" +
               fmt("%.0f", params) + " parameters x 4 B, activations x 2): saving " + pct(saving) + " (threshold " +
               pct(t.min_memory_saving) + "); " + top->first + " dominates with " + mib(top->second) + " (" + pct(top->second / mixed) + ")";
  f.layers = {top->first};
  const std::string c = top->first;
  if (c == "optimizer_state")
    f.recommendation = "AdamW keeps two fp32 states per parameter (8 B each), which mixed precision does not touch; it pays off "
                       "when activations dominate (larger --batch or model), or use --optimizer sgd (one state)";
  else if (c == "master_weights")
    f.recommendation = "O2 keeps fp32 masters (4 B per parameter) beside the low-precision copy; bf16 O3 with stochastic rounding "
                       "(--precision bf16-O3-sr) drops them";
  else if (c == "gradients")
    f.recommendation = "weight gradients accumulate in fp32 (4 B per parameter) by design; mixed precision pays off when "
                       "activations dominate (larger --batch or model)";
  else if (c == "weights")
    f.recommendation = "weights are stored in fp32 (O1 casts per step); --opt-level O2 stores them in the low dtype";
  else if (c == "activations")
    f.recommendation = "activations dominate but did not shrink: check that the GEMMs run in the low dtype (the precision map "
                       "may keep large layers in fp32), or reduce --batch";
  else
    f.recommendation = "kernel workspace dominates; it is independent of the storage precision";
  return {f};
}

std::vector<Finding> diagnose(const Run& r, const Thresholds& t) {
  std::vector<Finding> out;
  for (auto rule : {check_nonfinite_loss, check_divergence, check_scale_collapse, check_skipped_steps, check_fp16_flush,
                    check_headroom, check_lost_updates, check_memory})
    for (auto& f : rule(r, t)) out.push_back(std::move(f));
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
  return out;
}

Tally tally(const std::vector<Finding>& findings) {
  Tally t;
  for (const auto& f : findings) {
    t.problems += f.severity == Severity::problem;
    t.warnings += f.severity == Severity::warning;
    t.notes += f.severity == Severity::note;
  }
  return t;
}

nlohmann::json to_json(const Finding& f) {
  nlohmann::json j{{"severity", std::string(to_string(f.severity))}, {"rule", f.rule}, {"title", f.title}, {"evidence", f.evidence}, {"layers", f.layers},
                   {"recommendation", f.recommendation}};
  if (!f.precision_map.empty()) j["precision_map"] = f.precision_map;
  return j;
}

nlohmann::json verdict_json(const std::string& run_dir, const Run& r, const std::vector<Finding>& findings) {
  const Tally t = tally(findings);
  nlohmann::json out{{"run", run_dir},        {"finished", r.finished}, {"steps", r.points.size()}, {"problems", t.problems},
                     {"warnings", t.warnings}, {"notes", t.notes},       {"findings", nlohmann::json::array()}};
  for (const auto& f : findings) out["findings"].push_back(to_json(f));
  return out;
}

}  // namespace mixtrain::train::doctor
