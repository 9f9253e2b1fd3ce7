// The report's charts, drawn by hand as inline SVG: line charts with round tick values, a legend
// in HTML under the plot (so no label is ever clipped) and the data each curve was drawn from
// kept on its path (data-pts) for the page's optional hover readout (train/report_script.h).
// Internal to the report (train/report.h).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mixtrain::train::report_chart {

// Escapes text for HTML element content and attribute values.
std::string esc(const std::string& s);
// printf into a string.
std::string num(double v, const char* fmt = "%.4g");

// Tick values of an axis over [lo, hi]: multiples of 1, 2 or 5 x 10^k, about `target` of them,
// the first at or below lo and the last at or above hi (the axis spans exactly the ticks).
struct Ticks {
  double step = 1;
  std::vector<double> values;
};
// `min_step` > 0 bounds the step from below (1 for steps, which are whole numbers).
Ticks nice_ticks(double lo, double hi, int target = 5, double min_step = 0);
// A tick's label with as many decimals as the step needs ("0.25", "1500", "1e-05"): no "0.30000000004".
std::string tick_label(double v, double step);

struct Series {
  std::string label, color;
  std::vector<std::pair<double, double>> pts;  // (x, y); non-finite y breaks the line
  std::string dash;          // SVG stroke-dasharray ("" solid)
  double width = 1.6;
  bool dots = false;         // a circle on every point (evaluations: few points)
};

struct LineChart {
  std::string id{};          // unique in the page (hover readout)
  std::string title{};       // the figure's caption
  std::string x_title = "step", y_title{};
  bool integer_x = true;     // x values are whole numbers (steps): no tick at 0.5
  bool log2_y = false;       // y ticks at powers of two, labelled 2^k
  std::vector<Series> series{};
  std::vector<std::pair<double, std::string>> markers{};  // vertical lines at x with a tooltip
};

// The chart as <figure> with the SVG plot and its HTML legend; "no data" when no series has a
// finite point.
std::string render(const LineChart& c);

}  // namespace mixtrain::train::report_chart
