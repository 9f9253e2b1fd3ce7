// HTML/SVG rendering of the comparison report. Charts are drawn by hand as inline SVG
// (train/report_chart.h) so the page needs nothing from the network; its one inline script only
// adds hover readouts, and every chart reads the same without it.
#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "numerics/format.h"
#include "train/report_chart.h"
#include "train/report_script.h"

namespace mixtrain::train {
namespace {

using report_chart::esc;
using report_chart::num;

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                    "#8c564b", "#e377c2", "#17becf"};
// Each run's own line style beside its colour, and a width that falls with its index: curves that
// coincide (bf16 on top of fp32) show as a thin line inside a wider one instead of hiding it.
constexpr const char* kDashes[] = {"", "8,3", "2,2", "10,3,2,3", "5,5", "14,4", "1,3", "6,2,2,2"};

report_chart::Series styled(std::size_t run, const std::string& label) {
  report_chart::Series s;
  s.label = label;
  s.color = kPalette[run % 8];
  s.dash = kDashes[run % 8];
  s.width = std::max(1.3, 3.2 - 0.45 * static_cast<double>(run));
  return s;
}

// Histogram of exponents with the representable ranges of the low-precision formats drawn over.
std::string exponent_chart(const std::string& title, const std::array<std::uint64_t, numerics::kHistBins>& h) {
  int lo = numerics::kHistMaxExponent, hi = numerics::kHistMinExponent;
  std::uint64_t peak = 0;
  for (int i = 0; i < numerics::kHistBins; ++i)
    if (h[i]) {
      lo = std::min(lo, i + numerics::kHistMinExponent);
      hi = std::max(hi, i + numerics::kHistMinExponent);
      peak = std::max(peak, h[i]);
    }
  // Always show fp16's and e4m3's ranges in full for context.
  lo = std::min(lo, -26);
  hi = std::max(hi, 17);
  const double W = 720, H = 230, L = 40, R = 20, T = 20, B = 50;
  auto X = [&](double e) { return L + (e - lo) / (hi - lo + 1) * (W - L - R); };
  std::ostringstream o;
  o << "<figure><figcaption>" << esc(title) << "</figcaption><svg class=\"chart hist\" viewBox=\"0 0 " << W << ' '
    << H << "\" width=\"" << W << "\" height=\"" << H << "\" role=\"img\">";
  struct Band { DType t; const char* color; };
  const Band bands[] = {{DType::fp16, "#1f77b4"}, {DType::bf16, "#2ca02c"}, {DType::e4m3, "#ff7f0e"},
                        {DType::e5m2, "#9467bd"}};
  int k = 0;
  for (const auto& b : bands) {
    const auto& f = numerics::spec(b.t);
    const double sub = std::log2(numerics::min_subnormal(f)), nor = std::log2(numerics::min_normal(f));
    const double top = std::floor(std::log2(numerics::max_value(f)));
    const double y = H - B + 8 + 9 * k++;
    auto clampx = [&](double e) { return X(std::clamp(e, double(lo), double(hi) + 1)); };
    o << "<line x1=\"" << clampx(sub) << "\" x2=\"" << clampx(nor) << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"" << b.color << "\" stroke-width=\"3\" stroke-dasharray=\"2,2\"/>"
      << "<line x1=\"" << clampx(nor) << "\" x2=\"" << clampx(top + 1) << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"" << b.color << "\" stroke-width=\"3\"><title>" << f.name << " normal range 2^"
      << nor << " .. 2^" << top << "</title></line><text x=\"" << clampx(top + 1) + 3 << "\" y=\"" << y + 3
      << "\" font-size=\"9\">" << f.name << "</text>";
  }
  for (int e = lo; e <= hi; ++e) {
    const std::uint64_t c = h[e - numerics::kHistMinExponent];
    if (!c) continue;
    const double bh = (H - T - B) * std::log1p(double(c)) / std::log1p(double(peak));
    o << "<rect class=\"bar\" x=\"" << X(e) << "\" y=\"" << H - B - bh << "\" width=\""
      << std::max(1.0, X(e + 1) - X(e) - 1) << "\" height=\"" << bh << "\" fill=\"#555\"><title>2^" << e << ": "
      << c << "</title></rect>";
  }
  for (int e = (lo / 8) * 8; e <= hi; e += 8)
    if (e >= lo)
      o << "<text x=\"" << X(e) << "\" y=\"" << H - 4 << "\" font-size=\"10\" text-anchor=\"middle\">2^" << e << "</text>";
  o << "</svg></figure>";
  return o.str();
}

std::string bytes(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) { b /= 1024; ++u; }
  return num(b, "%.1f") + " " + unit[u];
}

// Stacked bars of each category's own peak, with a black mark at the peak of the total: the
// number the summary table shows. Categories peak at different moments (activations in the
// forward pass, gradients in the backward), so the stack may reach past the mark.
std::string memory_chart(const std::vector<ReportRun>& runs) {
  std::vector<std::string> cats;
  double peak = 0;
  for (const auto& r : runs) {
    double total = 0;
    for (const auto& [c, b] : r.peak_bytes) {
      if (c == "total") continue;
      if (std::find(cats.begin(), cats.end(), c) == cats.end()) cats.push_back(c);
      total += double(b);
    }
    peak = std::max({peak, total, double(r.peak_total)});
  }
  // Room on the right for "12.3 MiB peak (stack 13.1 MiB)".
  const double W = 720, row = 28, L = 120, R = 230;
  const double H = 30 + row * double(runs.size()) + 20 * double(cats.size());
  std::ostringstream o;
  o << "<figure><figcaption>Peak memory by ledger category</figcaption><p class=\"note\">Each bar stacks the categories' own "
       "peaks; the black mark is the peak of all categories together, the \"peak memory\" of the table above. Categories peak "
       "at different moments, so the stack can reach past the mark.</p><svg class=\"chart memory\" viewBox=\"0 0 "
    << W << ' ' << H << "\" width=\"" << W << "\" height=\"" << H << "\" role=\"img\">";
  if (peak <= 0) peak = 1;
  const auto X = [&](double bytes) { return L + bytes / peak * (W - L - R); };
  for (std::size_t i = 0; i < runs.size(); ++i) {
    double x = L;
    const double y = 10 + row * double(i);
    o << "<text x=\"" << L - 6 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\" font-size=\"12\">" << esc(runs[i].name) << "</text>";
    double total = 0;
    for (std::size_t c = 0; c < cats.size(); ++c) {
      auto it = runs[i].peak_bytes.find(cats[c]);
      if (it == runs[i].peak_bytes.end()) continue;
      const double w = double(it->second) / peak * (W - L - R);
      total += double(it->second);
      o << "<rect class=\"bar\" x=\"" << x << "\" y=\"" << y << "\" width=\"" << w << "\" height=\"20\" fill=\""
        << kPalette[c % 8] << "\"><title>" << esc(cats[c]) << ": " << bytes(double(it->second)) << "</title></rect>";
      x += w;
    }
    std::string label = bytes(total) + " (sum of category peaks)";
    if (runs[i].peak_total > 0) {
      const double mx = X(double(runs[i].peak_total));
      o << "<line class=\"peak\" x1=\"" << mx << "\" x2=\"" << mx << "\" y1=\"" << y - 3 << "\" y2=\"" << y + 23
        << "\" stroke=\"#000\" stroke-width=\"2.5\"><title>peak of the total: " << bytes(double(runs[i].peak_total)) << "</title></line>";
      label = bytes(double(runs[i].peak_total)) + " peak (stack " + bytes(total) + ")";
    }
    o << "<text x=\"" << std::max(x, X(double(runs[i].peak_total))) + 6 << "\" y=\"" << y + 15 << "\" font-size=\"12\">" << label << "</text>";
  }
  for (std::size_t c = 0; c < cats.size(); ++c) {
    const double y = 20 + row * double(runs.size()) + 20 * double(c);
    o << "<rect x=\"" << L << "\" y=\"" << y - 10 << "\" width=\"12\" height=\"12\" fill=\"" << kPalette[c % 8]
      << "\"/><text x=\"" << L + 18 << "\" y=\"" << y << "\" font-size=\"12\">" << esc(cats[c]) << "</text>";
  }
  o << "</svg></figure>";
  return o.str();
}

// Each autopilot layer's dtype over the run: one row per layer, a coloured segment per dtype.
std::string precision_timeline(const ReportRun& r) {
  std::map<std::string, std::string> now = r.initial_precision;
  for (const auto& e : r.precision_events)
    if (!now.count(e.layer)) now[e.layer] = e.from;
  if (now.empty()) return "";
  const auto color = [](const std::string& d) {
    if (d == "e4m3") return "#ff7f0e";
    if (d == "e5m2") return "#9467bd";
    if (d == "bf16") return "#2ca02c";
    if (d == "fp16") return "#1f77b4";
    return "#7f7f7f";
  };
  const double W = 720, row = 16, L = 170, R = 20, T = 10;
  const double H = T + row * double(now.size()) + 40;
  const double steps = double(std::max<std::int64_t>(r.steps, 1));
  auto X = [&](double s) { return L + s / steps * (W - L - R); };
  std::ostringstream o;
  o << "<figure><figcaption>" << esc(r.name) << ": GEMM precision of each layer over the run (" << r.precision_events.size()
    << " changes)</figcaption><svg class=\"chart timeline\" viewBox=\"0 0 " << W << ' ' << H << "\" width=\"" << W
    << "\" height=\"" << H << "\" role=\"img\">";
  int i = 0;
  for (const auto& [layer, first] : now) {
    const double y = T + row * i++;
    std::string dtype = first;
    double from = 0;
    auto segment = [&](double to) {
      if (to <= from) return;
      o << "<rect class=\"bar\" x=\"" << X(from) << "\" y=\"" << y << "\" width=\"" << X(to) - X(from) << "\" height=\""
        << row - 3 << "\" fill=\"" << color(dtype) << "\"><title>" << esc(layer) << ": " << esc(dtype) << " from step "
        << from << "</title></rect>";
    };
    for (const auto& e : r.precision_events) {
      if (e.layer != layer) continue;
      segment(double(e.step) + 1);  // a change applies from the next step
      from = double(e.step) + 1;
      dtype = e.to;
    }
    segment(steps);
    o << "<text x=\"" << L - 6 << "\" y=\"" << y + row - 5 << "\" text-anchor=\"end\" font-size=\"10\">" << esc(layer) << "</text>";
  }
  const double ly = T + row * double(now.size()) + 16;
  double lx = L;
  for (const std::string d : {"e4m3", "e5m2", "bf16", "fp16", "fp32"}) {
    o << "<rect x=\"" << lx << "\" y=\"" << ly - 9 << "\" width=\"10\" height=\"10\" fill=\"" << color(d) << "\"/><text x=\""
      << lx + 14 << "\" y=\"" << ly << "\" font-size=\"11\">" << d << (d == "e5m2" ? " (E5M2 gradients)" : "") << "</text>";
    lx += d == "e5m2" ? 150 : 70;
  }
  o << "<text x=\"" << W - R << "\" y=\"" << ly + 18 << "\" text-anchor=\"end\" font-size=\"10\">step " << r.steps << "</text>";
  o << "</svg></figure>";
  return o.str();
}

// The last sample's numerics as a table: a row per tensor, fractions in percent.
std::string numerics_table(const ReportRun& r) {
  if (r.numerics.empty()) return "";
  std::ostringstream o;
  o << "<details><summary>" << esc(r.name) << ": " << r.numerics.size() << " tensors sampled at step " << r.sampled_step
    << "</summary><table class=\"numerics\"><tr><th>kind</th><th>tensor</th><th>dtype</th><th>amax</th><th>overflow</th>"
       "<th>subnormal</th><th>flush to zero</th></tr>";
  auto pct = [](double f) { return f == 0 ? std::string("0") : num(100 * f, "%.3g") + "%"; };
  for (const auto& n : r.numerics)
    o << "<tr><td>" << esc(n.kind) << "</td><td style=\"text-align:left\">" << esc(n.tensor) << "</td><td>" << esc(n.dtype)
      << "</td><td>" << (std::isfinite(n.amax) ? num(n.amax, "%.3g") : std::string("non-finite")) << "</td><td>"
      << pct(n.overflow) << "</td><td>" << pct(n.subnormal) << "</td><td>" << pct(n.flush) << "</td></tr>";
  o << "</table></details>";
  return o.str();
}

// Where a run's points go on the x axis: the step, or the wall-clock seconds of training at the
// end of that step (NaN where the metrics have no time, which the chart leaves out).
class XAxis {
 public:
  XAxis(const ReportRun& r, bool time) : time_(time) {
    for (auto [step, sec] : r.seconds) seconds_[step] = sec;
  }
  double at(std::int64_t step) const {
    if (!time_) return double(step);
    const auto it = seconds_.find(step);
    return it == seconds_.end() ? NAN : it->second;
  }
  // An evaluation after `done` completed steps: where the last of them ended.
  double after(std::int64_t done) const { return time_ ? at(done - 1) : double(done); }

 private:
  bool time_;
  std::map<std::int64_t, double> seconds_;
};

bool runs_scaler(const ReportRun& r) {
  if (r.scaled || !r.skipped_steps.empty()) return true;
  for (auto [step, v] : r.loss_scale)
    if (v != 1) return true;
  return false;
}

// The curve panels on one x axis: loss (training and evaluation), the loss difference to the
// first run, accuracy, learning rate and the loss scale; each only where some run has its data.
std::string curve_panels(const std::vector<ReportRun>& runs, bool time) {
  using report_chart::LineChart;
  const std::string axis = time ? "time" : "step";
  const std::string x_title = time ? "wall-clock training time (s)" : "step";
  LineChart loss{.id = "loss-" + axis, .title = "Loss: lines training (per step), dots held-out evaluation", .x_title = x_title, .y_title = "loss"};
  LineChart diff{.id = "diff-" + axis, .title = "", .x_title = x_title, .y_title = "difference in loss"};
  LineChart acc{.id = "accuracy-" + axis, .title = "Accuracy: lines training batches, dots held-out evaluation", .x_title = x_title, .y_title = "accuracy (%)"};
  LineChart lr{.id = "lr-" + axis, .title = "Learning rate", .x_title = x_title, .y_title = "learning rate"};
  LineChart scale{.id = "scale-" + axis, .title = "", .x_title = x_title, .y_title = "loss scale", .log2_y = true};
  for (LineChart* c : {&loss, &diff, &acc, &lr, &scale}) c->integer_x = !time;
  std::size_t skipped = 0;
  std::map<std::int64_t, double> base;
  if (!runs.empty())
    for (auto [step, v] : runs[0].train_loss) base[step] = v;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const ReportRun& r = runs[i];
    const XAxis x(r, time);
    auto series = [&](const std::string& label, const std::vector<std::pair<std::int64_t, double>>& pts, double factor, bool evaluation) {
      auto s = styled(i, label);
      s.dots = evaluation;
      for (auto [step, v] : pts) s.pts.push_back({evaluation ? x.after(step) : x.at(step), v * factor});
      return s;
    };
    loss.series.push_back(series(r.name + " train", r.train_loss, 1, false));
    if (!r.eval_loss.empty()) loss.series.push_back(series(r.name + " eval", r.eval_loss, 1, true));
    if (i > 0 && !base.empty()) {
      auto d = styled(i, r.name + " - " + runs[0].name);
      for (auto [step, v] : r.train_loss)
        if (const auto it = base.find(step); it != base.end()) d.pts.push_back({x.at(step), v - it->second});
      diff.series.push_back(d);
    }
    if (!r.train_accuracy.empty()) acc.series.push_back(series(r.name + " train", r.train_accuracy, 100, false));
    if (!r.eval_accuracy.empty()) acc.series.push_back(series(r.name + " eval", r.eval_accuracy, 100, true));
    if (!r.lr.empty()) lr.series.push_back(series(r.name, r.lr, 1, false));
    if (runs_scaler(r)) {
      scale.series.push_back(series(r.name, r.loss_scale, 1, false));
      for (auto st : r.skipped_steps) {
        scale.markers.push_back({x.at(st), r.name + ": step " + std::to_string(st) + " skipped"});
        ++skipped;
      }
    }
  }
  std::string out = report_chart::render(loss);
  if (!diff.series.empty()) {
    diff.title = "Training loss minus " + runs[0].name + "'s at the same step (0: identical; what the loss chart cannot show when curves overlap)";
    out += report_chart::render(diff);
  }
  if (!acc.series.empty()) out += report_chart::render(acc);
  if (!lr.series.empty()) out += report_chart::render(lr);
  if (!scale.series.empty()) {
    scale.title = "Loss scale (log2) of the runs with a loss scaler; red lines mark skipped steps (" + std::to_string(skipped) + ")";
    out += report_chart::render(scale);
  }
  return out;
}

}  // namespace

std::string render_report(const std::vector<ReportRun>& runs, const ReportOptions& opt) {
  std::ostringstream o;
  // The wall-clock switch is two radio buttons and CSS: it works with scripts off.
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << esc(opt.title)
    << "</title><style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}"
       "figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:4px;max-width:720px}h2{margin-top:2em}"
       "p.note{max-width:720px;margin:2px 0 6px;color:#444}"
       ".legend{display:flex;flex-wrap:wrap;gap:4px 16px;max-width:720px;font-size:12px}.legend span{white-space:nowrap}"
       ".legend svg{vertical-align:middle;margin-right:4px}"
       ".readout{position:absolute;background:#fff;border:1px solid #888;padding:4px 6px;font-size:12px;pointer-events:none;"
       "box-shadow:1px 1px 4px rgba(0,0,0,.2)}"
       ".by-time{display:none}#x-time:checked~.curves .by-step{display:none}#x-time:checked~.curves .by-time{display:block}"
       "</style></head><body>";
  o << "<h1>" << esc(opt.title) << "</h1>";
  if (!opt.summary_columns.empty()) {
    o << "<table id=\"summary\"><tr><th>run</th>";
    for (const auto& c : opt.summary_columns) o << "<th>" << esc(c) << "</th>";
    o << "</tr>";
    for (const auto& r : runs) {
      o << "<tr><th>" << esc(r.name) << "</th>";
      for (const auto& c : opt.summary_columns) {
        auto it = r.summary.find(c);
        o << "<td>" << esc(it == r.summary.end() ? "" : it->second) << "</td>";
      }
      o << "</tr>";
    }
    o << "</table>";
  }
  bool timed = false;
  for (const auto& r : runs) timed = timed || !r.seconds.empty();
  o << "<h2>Training curves</h2>";
  if (timed)
    o << "<input type=\"radio\" name=\"xaxis\" id=\"x-step\" checked><label for=\"x-step\"> x axis: step</label> "
         "<input type=\"radio\" name=\"xaxis\" id=\"x-time\"><label for=\"x-time\"> x axis: wall-clock training time "
         "(the steps' measured times summed; evaluations and checkpoints excluded)</label>";
  o << "<div class=\"curves\"><div class=\"by-step\">" << curve_panels(runs, false) << "</div>";
  if (timed) o << "<div class=\"by-time\">" << curve_panels(runs, true) << "</div>";
  o << "</div>";
  o << "<h2>Gradient exponents</h2><p>Histogram of floor(log2|g|) of each layer's weight gradient "
       "(log-scaled counts) under each format's range: solid = normal, dotted = subnormal.</p>";
  for (const auto& r : runs)
    for (const auto& [layer, h] : r.grad_exponents) o << exponent_chart(r.name + " / " + layer, h);
  o << "<h2>Memory</h2>" << memory_chart(runs);
  o << "<h2>Numerics</h2><p>Every sampled tensor at the last sample: weights in their storage dtype, weight "
       "gradients (as computed, loss scale included) and activation gradients against the dtype they run in.</p>";
  for (const auto& r : runs) o << numerics_table(r);
  bool any_auto = false;
  for (const auto& r : runs) any_auto = any_auto || !r.initial_precision.empty();
  if (any_auto) {
    o << "<h2>Precision autopilot</h2>";
    for (const auto& r : runs) o << precision_timeline(r);
  }
  o << "<script>" << report_chart::kHoverScript << "</script></body></html>\n";
  return o.str();
}

}  // namespace mixtrain::train
