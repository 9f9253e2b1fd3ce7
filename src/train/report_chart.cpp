// Line charts of the report (train/report_chart.h).
#include "train/report_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace mixtrain::train::report_chart {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v, const char* fmt) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

Ticks nice_ticks(double lo, double hi, int target, double min_step) {
  Ticks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) return t;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    // One value: a unit-wide axis around it (at its own scale).
    const double pad = lo == 0 ? 1 : std::pow(10, std::floor(std::log10(std::fabs(lo))));
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  t.step = std::max((norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag, min_step);
  const double first = std::floor(lo / t.step + 1e-9), last = std::ceil(hi / t.step - 1e-9);
  for (double k = first; k <= last && t.values.size() < 64; ++k) t.values.push_back(k * t.step);
  return t;
}

std::string tick_label(double v, double step) {
  if (std::fabs(v) < std::fabs(step) * 1e-9) return "0";
  const double a = std::fabs(step);
  if (a >= 1e6 || a < 1e-4) return num(v, "%.3g");
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(a) - 1e-9)));
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string render(const LineChart& c) {
  // Plot area inside the SVG: room on the left for the y tick labels, below for the x labels
  // and the axis title, and half a label's width on the right for the last x tick.
  const double W = 720, H = 280, L = 64, R = 28, T = 12, B = 44;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  const auto yv = [&c](double y) { return c.log2_y ? std::log2(y) : y; };
  const auto usable = [&c](double y) { return std::isfinite(y) && (!c.log2_y || y > 0); };
  for (const auto& s : c.series)
    for (auto [x, y] : s.pts) {
      if (!usable(y) || !std::isfinite(x)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, yv(y));
      y1 = std::max(y1, yv(y));
    }
  std::ostringstream o;
  o << "<figure class=\"plot\"><figcaption>" << esc(c.title) << "</figcaption>";
  o << "<svg class=\"chart\" id=\"" << esc(c.id) << "\" viewBox=\"0 0 " << W << ' ' << H << "\" width=\"" << W << "\" height=\"" << H
    << "\" role=\"img\"";
  if (x0 > x1) {
    o << "><text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\">no data</text></svg></figure>";
    return o.str();
  }
  Ticks xt = nice_ticks(x0, x1, 6, c.integer_x ? 1.0 : 0.0);
  Ticks yt;
  if (c.log2_y) {
    // Powers of two, every 1, 2, 5, 10, ... doublings.
    // Half a doubling of margin, so a constant scale is drawn inside the plot, not on its edge.
    const double lo = std::floor(y0 - 0.5), hi = std::ceil(y1 + 0.5);
    const double span = hi - lo;
    yt.step = span <= 6 ? 1 : span <= 12 ? 2 : span <= 30 ? 5 : 10;
    for (double k = std::floor(lo / yt.step) * yt.step; k <= hi + 1e-9; k += yt.step) yt.values.push_back(k);
    if (yt.values.back() < hi) yt.values.push_back(yt.values.back() + yt.step);
  } else {
    yt = nice_ticks(y0, y1, 5);
  }
  const double ax0 = xt.values.front(), ax1 = xt.values.back(), ay0 = yt.values.front(), ay1 = yt.values.back();
  const auto X = [&](double x) { return L + (x - ax0) / (ax1 - ax0) * (W - L - R); };
  const auto Y = [&](double y) { return T + (1 - (y - ay0) / (ay1 - ay0)) * (H - T - B); };
  // The mapping from data to SVG units, for the hover readout.
  o << " data-x0=\"" << num(ax0, "%.17g") << "\" data-x1=\"" << num(ax1, "%.17g") << "\" data-left=\"" << L << "\" data-right=\"" << W - R << "\" data-top=\"" << T << "\" data-bottom=\"" << H - B
    << "\" data-xtitle=\"" << esc(c.x_title) << "\" data-log2=\"" << (c.log2_y ? 1 : 0) << "\">";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"#fcfcfc\" stroke=\"#999\"/>";
  for (double v : yt.values)
    o << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << num(Y(v), "%.1f") << "\" y2=\"" << num(Y(v), "%.1f")
      << "\" stroke=\"#e4e4e4\"/><text class=\"tick\" x=\"" << L - 5 << "\" y=\"" << num(Y(v) + 4, "%.1f")
      << "\" text-anchor=\"end\" font-size=\"11\">" << (c.log2_y ? "2^" + tick_label(v, yt.step) : tick_label(v, yt.step)) << "</text>";
  for (double v : xt.values)
    o << "<line x1=\"" << num(X(v), "%.1f") << "\" x2=\"" << num(X(v), "%.1f") << "\" y1=\"" << T << "\" y2=\"" << H - B
      << "\" stroke=\"#f0f0f0\"/><text class=\"tick\" x=\"" << num(X(v), "%.1f") << "\" y=\"" << H - B + 15
      << "\" text-anchor=\"middle\" font-size=\"11\">" << tick_label(v, xt.step) << "</text>";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 8 << "\" text-anchor=\"middle\" font-size=\"12\">" << esc(c.x_title)
    << "</text>";
  if (!c.y_title.empty())
    o << "<text x=\"12\" y=\"" << (T + H - B) / 2 << "\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 12 "
      << (T + H - B) / 2 << ")\">" << esc(c.y_title) << "</text>";
  for (const auto& [x, label] : c.markers)
    o << "<line class=\"marker\" x1=\"" << num(X(x), "%.1f") << "\" x2=\"" << num(X(x), "%.1f") << "\" y1=\"" << T << "\" y2=\"" << H - B
      << "\" stroke=\"#d62728\" stroke-opacity=\"0.35\"><title>" << esc(label) << "</title></line>";
  for (const auto& s : c.series) {
    std::ostringstream path, data, dots;
    bool pen_up = true;
    for (auto [x, y] : s.pts) {
      if (!usable(y) || !std::isfinite(x)) {
        pen_up = true;
        continue;
      }
      const std::string px = num(X(x), "%.1f"), py = num(Y(yv(y)), "%.1f");
      path << (pen_up ? 'M' : 'L') << px << ',' << py << ' ';
      data << num(x, "%.6g") << ',' << num(y, "%.6g") << ' ';
      if (s.dots) dots << "<circle cx=\"" << px << "\" cy=\"" << py << "\" r=\"3\" fill=\"" << s.color << "\"/>";
      pen_up = false;
    }
    o << "<path class=\"series\" d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"" << s.width
      << "\" stroke-opacity=\"0.9\"" << (s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"") << " data-label=\""
      << esc(s.label) << "\" data-pts=\"" << data.str() << "\"/>" << dots.str();
  }
  o << "</svg><div class=\"legend\">";
  for (const auto& s : c.series)
    o << "<span><svg width=\"34\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" x2=\"33\" y1=\"5\" y2=\"5\" stroke=\"" << s.color
      << "\" stroke-width=\"" << std::max(2.0, s.width) << "\"" << (s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"") << "/>"
      << (s.dots ? "<circle cx=\"17\" cy=\"5\" r=\"3\" fill=\"" + s.color + "\"/>" : "") << "</svg>" << esc(s.label) << "</span>";
  o << "</div></figure>";
  return o.str();
}

}  // namespace mixtrain::train::report_chart
