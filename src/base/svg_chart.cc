#include "base/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace frugal::svg {
namespace {

// A palette that stays distinguishable for the first ten series.
const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
const char* color(size_t i) { return kColors[i % (sizeof kColors / sizeof kColors[0])]; }

// Margins around the plot area: room for the title, tick labels and axis labels.
constexpr int kLeft = 70, kRight = 170, kTop = 34, kBottom = 46;

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// A tick label: few digits, exponent form only for very large or small values.
std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-3) return fmt("%.0e", v);
  std::string s = fmt("%.4g", v);
  return s;
}

struct Axis {
  double lo, hi;
  bool log;
  double map(double v, double p0, double p1) const {
    const double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi;
    const double t = ((log ? std::log10(v) : v) - a) / (b - a);
    return p0 + t * (p1 - p0);
  }
};

void widen(double& lo, double& hi) {
  if (!(lo < hi)) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
}

std::string frame(const std::string& title, const std::string& x_label, const std::string& y_label, int w, int h) {
  std::string s;
  s += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(w) + "\" height=\"" + std::to_string(h) + "\" fill=\"white\"/>\n";
  s += "<text x=\"" + std::to_string(w / 2) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" +
       escape_xml(title) + "</text>\n";
  if (!x_label.empty())
    s += "<text x=\"" + std::to_string(kLeft + (w - kLeft - kRight) / 2) + "\" y=\"" + std::to_string(h - 8) +
         "\" text-anchor=\"middle\" font-size=\"12\">" + escape_xml(x_label) + "</text>\n";
  if (!y_label.empty())
    s += "<text transform=\"translate(16," + std::to_string(kTop + (h - kTop - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + escape_xml(y_label) + "</text>\n";
  return s;
}

std::string legend(const std::vector<Series>& series, int w, bool bars) {
  std::string s;
  for (size_t i = 0; i < series.size(); ++i) {
    const int y = kTop + 8 + static_cast<int>(i) * 18;
    const int x = w - kRight + 12;
    if (bars)
      s += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y - 8) + "\" width=\"18\" height=\"10\" fill=\"" +
           color(i) + "\"/>";
    else
      s += "<line x1=\"" + std::to_string(x) + "\" y1=\"" + std::to_string(y - 3) + "\" x2=\"" + std::to_string(x + 18) +
           "\" y2=\"" + std::to_string(y - 3) + "\" stroke=\"" + color(i) + "\" stroke-width=\"2\"" +
           (series[i].dashed ? " stroke-dasharray=\"5,3\"" : "") + "/>";
    s += "<text x=\"" + std::to_string(x + 24) + "\" y=\"" + std::to_string(y + 1) + "\" font-size=\"11\">" +
         escape_xml(series[i].name) + "</text>\n";
  }
  return s;
}

}  // namespace

std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi) || target < 1) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  // Integer multiples of the step, so that errors do not accumulate.
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1) ticks.push_back(k == 0 ? 0.0 : k * step);
  return ticks;
}

std::string line_chart(const LineChart& c, int w, int h) {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  auto usable = [&c](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!c.log_y || y > 0); };
  for (const Series& s : c.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.x[i], s.y[i])) {
        xlo = std::min(xlo, s.x[i]);
        xhi = std::max(xhi, s.x[i]);
        ylo = std::min(ylo, s.y[i]);
        yhi = std::max(yhi, s.y[i]);
      }
  std::string out = "<g>\n" + frame(c.title, c.x_label, c.y_label, w, h);
  if (!std::isfinite(xlo)) return out + "<text x=\"" + std::to_string(w / 2) + "\" y=\"" + std::to_string(h / 2) +
                                    "\" text-anchor=\"middle\" font-size=\"12\">no data</text>\n</g>\n";
  widen(xlo, xhi);
  if (c.log_y) {
    ylo = std::pow(10.0, std::floor(std::log10(ylo)));
    yhi = std::pow(10.0, std::ceil(std::log10(yhi)));
    widen(ylo, yhi);
  } else {
    widen(ylo, yhi);
    const double pad = (yhi - ylo) * 0.05;
    ylo -= pad;
    yhi += pad;
  }
  const Axis X{xlo, xhi, false}, Y{ylo, yhi, c.log_y};
  const double px0 = kLeft, px1 = w - kRight, py0 = h - kBottom, py1 = kTop;
  out += "<rect x=\"" + fmt("%.1f", px0) + "\" y=\"" + fmt("%.1f", py1) + "\" width=\"" + fmt("%.1f", px1 - px0) +
         "\" height=\"" + fmt("%.1f", py0 - py1) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (double t : nice_ticks(xlo, xhi)) {
    const double x = X.map(t, px0, px1);
    out += "<line x1=\"" + fmt("%.1f", x) + "\" y1=\"" + fmt("%.1f", py0) + "\" x2=\"" + fmt("%.1f", x) + "\" y2=\"" +
           fmt("%.1f", py1) + "\" stroke=\"#ddd\"/><text x=\"" + fmt("%.1f", x) + "\" y=\"" + fmt("%.1f", py0 + 16) +
           "\" text-anchor=\"middle\" font-size=\"11\">" + tick_label(t) + "</text>\n";
  }
  std::vector<double> yt;
  if (c.log_y)
    for (double v = ylo; v <= yhi * 1.0001; v *= 10) yt.push_back(v);
  else
    yt = nice_ticks(ylo, yhi);
  for (double t : yt) {
    const double y = Y.map(t, py0, py1);
    out += "<line x1=\"" + fmt("%.1f", px0) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + fmt("%.1f", px1) + "\" y2=\"" +
           fmt("%.1f", y) + "\" stroke=\"#ddd\"/><text x=\"" + fmt("%.1f", px0 - 6) + "\" y=\"" + fmt("%.1f", y + 4) +
           "\" text-anchor=\"end\" font-size=\"11\">" + tick_label(t) + "</text>\n";
  }
  for (size_t k = 0; k < c.series.size(); ++k) {
    const Series& s = c.series[k];
    std::string points;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.x[i], s.y[i]))
        points += fmt("%.1f", X.map(s.x[i], px0, px1)) + "," + fmt("%.1f", Y.map(s.y[i], py0, py1)) + " ";
    out += "<polyline class=\"series\" data-name=\"" + escape_xml(s.name) + "\" fill=\"none\" stroke=\"" + color(k) +
           "\" stroke-width=\"1.8\"" + (s.dashed ? " stroke-dasharray=\"5,3\"" : "") + " points=\"" + points + "\"/>\n";
  }
  return out + legend(c.series, w, false) + "</g>\n";
}

std::string bar_chart(const BarChart& c, int w, int h) {
  double yhi = 0;
  for (const Series& s : c.series)
    for (double v : s.y)
      if (std::isfinite(v)) yhi = std::max(yhi, v);
  std::string out = "<g>\n" + frame(c.title, "", c.y_label, w, h);
  if (yhi <= 0 || c.categories.empty()) return out + "</g>\n";
  yhi *= 1.08;
  const Axis Y{0, yhi, false};
  const double px0 = kLeft, px1 = w - kRight, py0 = h - kBottom, py1 = kTop;
  out += "<rect x=\"" + fmt("%.1f", px0) + "\" y=\"" + fmt("%.1f", py1) + "\" width=\"" + fmt("%.1f", px1 - px0) +
         "\" height=\"" + fmt("%.1f", py0 - py1) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (double t : nice_ticks(0, yhi)) {
    const double y = Y.map(t, py0, py1);
    out += "<line x1=\"" + fmt("%.1f", px0) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + fmt("%.1f", px1) + "\" y2=\"" +
           fmt("%.1f", y) + "\" stroke=\"#ddd\"/><text x=\"" + fmt("%.1f", px0 - 6) + "\" y=\"" + fmt("%.1f", y + 4) +
           "\" text-anchor=\"end\" font-size=\"11\">" + tick_label(t) + "</text>\n";
  }
  const double group = (px1 - px0) / static_cast<double>(c.categories.size());
  const double bar = group * 0.8 / static_cast<double>(std::max<size_t>(1, c.series.size()));
  for (size_t j = 0; j < c.categories.size(); ++j) {
    const double gx = px0 + group * static_cast<double>(j) + group * 0.1;
    out += "<text x=\"" + fmt("%.1f", gx + group * 0.4) + "\" y=\"" + fmt("%.1f", py0 + 16) +
           "\" text-anchor=\"middle\" font-size=\"11\">" + escape_xml(c.categories[j]) + "</text>\n";
    for (size_t i = 0; i < c.series.size(); ++i) {
      if (j >= c.series[i].y.size() || !std::isfinite(c.series[i].y[j])) continue;
      const double v = c.series[i].y[j], y = Y.map(v, py0, py1);
      out += "<rect class=\"bar\" x=\"" + fmt("%.1f", gx + bar * static_cast<double>(i)) + "\" y=\"" + fmt("%.1f", y) +
             "\" width=\"" + fmt("%.1f", bar * 0.92) + "\" height=\"" + fmt("%.1f", py0 - y) + "\" fill=\"" + color(i) +
             "\"><title>" + escape_xml(c.series[i].name) + ": " + tick_label(v) + "</title></rect>\n";
    }
  }
  return out + legend(c.series, w, true) + "</g>\n";
}

std::string document(const std::vector<std::string>& panels, int width, int panel_height) {
  const int h = panel_height * static_cast<int>(std::max<size_t>(1, panels.size()));
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(width) + "\" height=\"" + std::to_string(h) + "\" font-family=\"sans-serif\">\n";
  for (size_t i = 0; i < panels.size(); ++i)
    out += "<g transform=\"translate(0," + std::to_string(static_cast<int>(i) * panel_height) + ")\">\n" + panels[i] +
           "</g>\n";
  return out + "</svg>\n";
}

}  // namespace frugal::svg
