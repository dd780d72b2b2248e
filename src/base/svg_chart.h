// A small self-contained SVG chart writer: line charts (axes, "nice" ticks,
// legend, solid or dashed series, optional shaded bands), grouped bar charts and heat maps, each drawn
// into a rectangle of one SVG document, so that several panels make a figure.
// Non-finite values are skipped (a line breaks there). No external library.
#pragma once
#include <string>
#include <vector>

namespace frugal::svg {

struct Series {
  std::string name;          // legend entry ("" for none)
  std::vector<double> x, y;  // same length
  std::string color;         // CSS colour; "" picks from the palette by index
  bool dashed = false;
  // Optional: a shaded band from lo to hi under the line (the spread of several
  // runs); empty for none, else the same length as x.
  std::vector<double> lo = {}, hi = {};
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
};

struct BarChart {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;  // one group of bars per category
  std::vector<Series> series;           // y[i] is the bar of category i (x unused)
};

struct HeatMap {
  std::string title, x_label, y_label;
  std::vector<std::string> row_labels, col_labels;
  std::vector<std::vector<double>> values;  // values[row][col]
};

// The i-th colour of the palette (cycles).
std::string palette(size_t i);

// Tick positions from lo to hi: about `target` steps of 1, 2 or 5 times a power of ten.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

// A number as a tick label: short, without trailing zeros ("0.25", "1e+04").
std::string tick_label(double v);

// Text escaped for XML (&, <, >, ").
std::string xml_escape(const std::string& s);

// Each draws into the rectangle (x, y, w, h) of the document and returns SVG elements.
std::string draw_line_chart(const LineChart& c, double x, double y, double w, double h);
std::string draw_bar_chart(const BarChart& c, double x, double y, double w, double h);
std::string draw_heat_map(const HeatMap& c, double x, double y, double w, double h);

// A whole SVG document of the given size around `body`.
std::string svg_document(double width, double height, const std::string& body);

}  // namespace frugal::svg
