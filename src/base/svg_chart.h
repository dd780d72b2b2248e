// Small, dependency-free SVG charts: line charts (loss curves, expert load
// over training) and grouped bar charts (tokens per second per tool), with
// axes, "nice" ticks and a legend. A document stacks several panels.
#pragma once
#include <string>
#include <vector>

namespace frugal::svg {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; non-finite points are skipped
  bool dashed = false;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_y = false;  // logarithmic y axis (values <= 0 skipped)
};

// Grouped bars: one group per category, one bar per series in each group
// (series[i].y[j] is the bar of series i in category j; x is unused).
struct BarChart {
  std::string title, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
};

// Each returns an SVG group (<g>) of the given size, drawn at (0, 0).
std::string line_chart(const LineChart& chart, int width, int height);
std::string bar_chart(const BarChart& chart, int width, int height);

// A whole SVG document with the panels stacked top to bottom, each
// `panel_height` high and `width` wide.
std::string document(const std::vector<std::string>& panels, int width, int panel_height);

// Tick positions covering [lo, hi] at a 1-2-5 step, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

// Text safe inside SVG/XML (&, <, >, quotes escaped).
std::string escape_xml(const std::string& s);

}  // namespace frugal::svg
