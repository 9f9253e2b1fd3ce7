// HTML/SVG rendering of the comparison report. Charts are drawn by hand as inline SVG so the page
// needs nothing from the network and no JavaScript at all.
#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "numerics/format.h"

namespace mixtrain::train {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                    "#8c564b", "#e377c2", "#17becf"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v, const char* fmt = "%.4g") {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

struct Series {
  std::string label, color;
  std::vector<std::pair<double, double>> pts;
  bool dashed = false;
};

// A line chart with linear x, linear or log2 y, axes, ticks and a legend.
std::string line_chart(const std::string& title, const std::vector<Series>& series, bool log_y,
                       const std::vector<std::pair<double, std::string>>& markers = {}) {
  const double W = 720, H = 300, L = 70, R = 150, T = 30, B = 40;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series)
    for (auto [x, y] : s.pts) {
      if (!std::isfinite(y) || (log_y && y <= 0)) continue;
      const double yy = log_y ? std::log2(y) : y;
      x0 = std::min(x0, x); x1 = std::max(x1, x);
      y0 = std::min(y0, yy); y1 = std::max(y1, yy);
    }
  std::ostringstream o;
  o << "<figure><figcaption>" << esc(title) << "</figcaption><svg class=\"chart\" viewBox=\"0 0 " << W
    << ' ' << H << "\" width=\"" << W << "\" height=\"" << H << "\" role=\"img\">";
  if (x0 > x1) {
    o << "<text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\">no data</text></svg></figure>";
    return o.str();
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) { y1 += 0.5; y0 -= 0.5; }
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return T + (1 - (y - y0) / (y1 - y0)) * (H - T - B); };
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"#fafafa\" stroke=\"#999\"/>";
  for (int i = 0; i <= 4; ++i) {
    const double yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
    o << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(yv) << "\" y2=\"" << Y(yv)
      << "\" stroke=\"#e0e0e0\"/><text x=\"" << L - 6 << "\" y=\"" << Y(yv) + 4
      << "\" text-anchor=\"end\" font-size=\"11\">" << (log_y ? "2^" + num(yv, "%.1f") : num(yv)) << "</text>";
    o << "<text x=\"" << X(xv) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\" font-size=\"11\">"
      << num(xv, "%.0f") << "</text>";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 6 << "\" text-anchor=\"middle\" font-size=\"12\">step</text>";
  for (auto [x, label] : markers)
    o << "<line class=\"marker\" x1=\"" << X(x) << "\" x2=\"" << X(x) << "\" y1=\"" << T << "\" y2=\"" << H - B
      << "\" stroke=\"#d62728\" stroke-opacity=\"0.35\"><title>" << esc(label) << "</title></line>";
  int row = 0;
  for (const auto& s : series) {
    std::ostringstream path;
    bool first = true;
    for (auto [x, y] : s.pts) {
      if (!std::isfinite(y) || (log_y && y <= 0)) { first = true; continue; }
      path << (first ? 'M' : 'L') << num(X(x), "%.1f") << ',' << num(Y(log_y ? std::log2(y) : y), "%.1f") << ' ';
      first = false;
    }
    o << "<path class=\"series\" d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << s.color
      << "\" stroke-width=\"1.6\"" << (s.dashed ? " stroke-dasharray=\"5,3\"" : "") << "/>";
    const double ly = T + 14 + 18 * row++;
    o << "<line x1=\"" << W - R + 10 << "\" x2=\"" << W - R + 30 << "\" y1=\"" << ly << "\" y2=\"" << ly
      << "\" stroke=\"" << s.color << "\" stroke-width=\"2\"" << (s.dashed ? " stroke-dasharray=\"5,3\"" : "")
      << "/><text x=\"" << W - R + 35 << "\" y=\"" << ly + 4 << "\" font-size=\"12\">" << esc(s.label) << "</text>";
  }
  o << "</svg></figure>";
  return o.str();
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
    peak = std::max(peak, total);
  }
  const double W = 720, row = 28, L = 120, R = 160;
  const double H = 30 + row * double(runs.size()) + 20 * double(cats.size());
  std::ostringstream o;
  o << "<figure><figcaption>Peak memory by ledger category</figcaption><svg class=\"chart\" viewBox=\"0 0 " << W
    << ' ' << H << "\" width=\"" << W << "\" height=\"" << H << "\" role=\"img\">";
  if (peak <= 0) peak = 1;
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
    o << "<text x=\"" << x + 6 << "\" y=\"" << y + 15 << "\" font-size=\"12\">" << bytes(total) << "</text>";
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

}  // namespace

std::string render_report(const std::vector<ReportRun>& runs, const ReportOptions& opt) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << esc(opt.title)
    << "</title><style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}"
       "figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:4px}h2{margin-top:2em}</style></head><body>";
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
  std::vector<Series> loss, scale;
  std::vector<std::pair<double, std::string>> skips;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const std::string color = kPalette[i % 8];
    Series s{r.name + " train", color, {}, false};
    for (auto [x, y] : r.train_loss) s.pts.push_back({double(x), y});
    loss.push_back(s);
    if (!r.eval_loss.empty()) {
      Series e{r.name + " eval", color, {}, true};
      for (auto [x, y] : r.eval_loss) e.pts.push_back({double(x), y});
      loss.push_back(e);
    }
    if (!r.loss_scale.empty()) {
      Series sc{r.name, color, {}, false};
      for (auto [x, y] : r.loss_scale) sc.pts.push_back({double(x), y});
      scale.push_back(sc);
    }
    for (auto st : r.skipped_steps) skips.push_back({double(st), r.name + ": step " + std::to_string(st) + " skipped"});
  }
  o << "<h2>Loss</h2>" << line_chart("Training loss per precision (dashed: evaluation)", loss, false);
  o << "<h2>Loss scale</h2>"
    << line_chart("Loss scale (log2); red lines mark skipped steps (" + std::to_string(skips.size()) + ")", scale, true, skips);
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
  o << "</body></html>\n";
  return o.str();
}

}  // namespace mixtrain::train
