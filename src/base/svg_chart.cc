#include "base/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "base/utf8.h"

namespace frugal::svg {
namespace {

// Margins inside a panel: room for the title, tick labels and axis labels.
constexpr double kLeft = 62, kRight = 16, kTop = 30, kBottom = 44;

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

std::string text(double x, double y, const std::string& s, const char* anchor = "middle", int size = 12,
                 const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + std::to_string(size) +
         "\" text-anchor=\"" + anchor + "\"" + extra + ">" + xml_escape(s) + "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& style) {
  return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) + "\" " +
         style + "/>\n";
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isfinite(v)) { lo = std::min(lo, v); hi = std::max(hi, v); }
  }
  // Afterwards lo < hi, so positions are never NaN: a range too narrow for
  // its magnitude (one value, or steps near 1e17, where adding 0.5 changes
  // nothing) is widened to 5% of the magnitude either side (0.5 around 0).
  // A range of small values (learning rates near 1e-3) keeps its own scale.
  void finish() {
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    const double max = std::numeric_limits<double>::max();
    const double mag = std::max(std::abs(lo), std::abs(hi));
    if (hi - lo <= mag * 1e-9) {
      const double mid = lo / 2 + hi / 2, half = mag > 0 ? mag * 0.05 : 0.5;
      lo = std::max(mid - half, -max);
      hi = std::min(mid + half, max);
    }
  }
  // Where v lies between lo (0) and hi (1); halved first so that the
  // differences of values near the largest double do not overflow.
  double frac(double v) const { return (v / 2 - lo / 2) / (hi / 2 - lo / 2); }
  // Room around the data, as shares of the range, kept within the doubles.
  void pad(double below, double above) {
    const double half_span = hi / 2 - lo / 2, max = std::numeric_limits<double>::max();
    lo = std::max(lo - 2 * below * half_span, -max);
    hi = std::min(hi + 2 * above * half_span, max);
  }
};

// Title, axes frame, axis labels and ticks of a panel; returns the plot area.
struct Area { double x, y, w, h; };
std::string frame(const std::string& title, const std::string& xl, const std::string& yl, double x, double y,
                  double w, double h, Area& a) {
  a = {x + kLeft, y + kTop, std::max(10.0, w - kLeft - kRight), std::max(10.0, h - kTop - kBottom)};
  std::string s;
  s += text(x + w / 2, y + 18, title, "middle", 14, " font-weight=\"bold\"");
  s += "<rect x=\"" + num(a.x) + "\" y=\"" + num(a.y) + "\" width=\"" + num(a.w) + "\" height=\"" + num(a.h) +
       "\" fill=\"none\" stroke=\"#333\"/>\n";
  s += text(a.x + a.w / 2, y + h - 6, xl);
  const double cy = a.y + a.h / 2, cx = x + 14;
  s += text(cx, cy, yl, "middle", 12, " transform=\"rotate(-90 " + num(cx) + " " + num(cy) + ")\"");
  return s;
}

std::string legend(const std::vector<Series>& series, const Area& a, bool boxes) {
  std::string s;
  double ly = a.y + 8;
  size_t longest = 0;
  for (const auto& sr : series) longest = std::max(longest, sr.name.size());
  const double lw = 34 + 6.5 * double(longest);
  const double lx = a.x + a.w - lw - 6;
  int n = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].name.empty()) continue;
    const std::string color = series[i].color.empty() ? palette(i) : series[i].color;
    const double yy = ly + 16 * n++;
    if (boxes) {
      s += "<rect x=\"" + num(lx) + "\" y=\"" + num(yy - 5) + "\" width=\"20\" height=\"10\" fill=\"" + color + "\"/>\n";
    } else {
      s += line(lx, yy, lx + 20, yy, "stroke=\"" + color + "\" stroke-width=\"2\"" +
                                          (series[i].dashed ? std::string(" stroke-dasharray=\"6 3\"") : ""));
    }
    s += text(lx + 26, yy + 4, series[i].name, "start", 11);
  }
  if (n == 0) return "";
  return "<rect x=\"" + num(lx - 6) + "\" y=\"" + num(ly - 10) + "\" width=\"" + num(lw + 6) + "\" height=\"" +
         num(16.0 * n + 4) + "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n" + s;
}

}  // namespace

std::string palette(size_t i) {
  static const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[i % 10];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(std::isfinite(lo) && std::isfinite(hi)) || hi <= lo || target < 1) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double m = 1;
  for (double cand : {1.0, 2.0, 5.0, 10.0}) {
    m = cand;
    if (m * mag >= raw) break;
  }
  // Tick k is k * m * mag; below 1, divide by the integer 1/mag so 0.6 is 6/10, not 3 * 0.2.
  const double inv = mag < 1 ? std::round(1.0 / mag) : 0;
  auto tick = [&](double k) { return inv > 0 ? k * m / inv : k * m * mag; };
  const double step = m * mag;
  // Beyond 2^52 steps from zero, k += 1 no longer changes k: no ticks then.
  if (!std::isfinite(step) || std::max(std::abs(lo), std::abs(hi)) / step > 0x1p52) return ticks;
  for (double k = std::ceil(lo / step - 1e-9); tick(k) <= hi + step * 1e-9; k += 1) ticks.push_back(tick(k) == 0 ? 0.0 : tick(k));
  return ticks;
}

std::string tick_label(double v) {
  char b[32];
  if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3)) std::snprintf(b, sizeof b, "%.3g", v);
  else std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string xml_escape(const std::string& s) {
  // Labels come from file names and --label: any bytes. XML wants valid
  // UTF-8 and no control characters other than tab, newline and return.
  std::string out;
  for (char c : to_valid_utf8(s)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') out += kReplacementCharacter;
    else out += c;
  }
  return out;
}

std::string draw_line_chart(const LineChart& c, double x, double y, double w, double h) {
  Area a;
  std::string s = frame(c.title, c.x_label, c.y_label, x, y, w, h, a);
  Range rx, ry;
  for (const auto& sr : c.series) {
    for (size_t i = 0; i < sr.x.size() && i < sr.y.size(); ++i) {
      if (std::isfinite(sr.x[i]) && std::isfinite(sr.y[i])) { rx.add(sr.x[i]); ry.add(sr.y[i]); }
    }
    for (size_t i = 0; i < sr.x.size() && i < sr.lo.size() && i < sr.hi.size(); ++i) {
      if (std::isfinite(sr.x[i])) { ry.add(sr.lo[i]); ry.add(sr.hi[i]); }
    }
  }
  rx.finish();
  ry.finish();
  ry.pad(0.05, 0.05);
  auto px = [&](double v) { return a.x + rx.frac(v) * a.w; };
  auto py = [&](double v) { return a.y + a.h - ry.frac(v) * a.h; };
  for (double t : nice_ticks(rx.lo, rx.hi)) {
    s += line(px(t), a.y + a.h, px(t), a.y + a.h + 4, "stroke=\"#333\"");
    s += line(px(t), a.y, px(t), a.y + a.h, "stroke=\"#eee\"");
    s += text(px(t), a.y + a.h + 16, tick_label(t), "middle", 11);
  }
  for (double t : nice_ticks(ry.lo, ry.hi, 5)) {
    s += line(a.x - 4, py(t), a.x, py(t), "stroke=\"#333\"");
    s += line(a.x, py(t), a.x + a.w, py(t), "stroke=\"#eee\"");
    s += text(a.x - 6, py(t) + 4, tick_label(t), "end", 11);
  }
  // Bands first, so that every line is drawn over them: along hi, back along lo.
  for (size_t k = 0; k < c.series.size(); ++k) {
    const Series& sr = c.series[k];
    std::vector<size_t> at;
    for (size_t i = 0; i < sr.x.size() && i < sr.lo.size() && i < sr.hi.size(); ++i)
      if (std::isfinite(sr.x[i]) && std::isfinite(sr.lo[i]) && std::isfinite(sr.hi[i])) at.push_back(i);
    if (at.size() < 2) continue;
    std::string d;
    for (size_t j = 0; j < at.size(); ++j) d += (j ? "L" : "M") + num(px(sr.x[at[j]])) + " " + num(py(sr.hi[at[j]])) + " ";
    for (size_t j = at.size(); j-- > 0;) d += "L" + num(px(sr.x[at[j]])) + " " + num(py(sr.lo[at[j]])) + " ";
    s += "<path class=\"band\" data-name=\"" + xml_escape(sr.name) + "\" d=\"" + d + "Z\" fill=\"" +
         (sr.color.empty() ? palette(k) : sr.color) + "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
  }
  for (size_t k = 0; k < c.series.size(); ++k) {
    const Series& sr = c.series[k];
    const std::string color = sr.color.empty() ? palette(k) : sr.color;
    std::string d;
    bool pen_down = false;
    size_t points = 0;
    for (size_t i = 0; i < sr.x.size() && i < sr.y.size(); ++i) {
      if (!std::isfinite(sr.x[i]) || !std::isfinite(sr.y[i])) continue;  // sparse series (validation) join up
      d += (pen_down ? "L" : "M") + num(px(sr.x[i])) + " " + num(py(sr.y[i])) + " ";
      pen_down = true;
      ++points;
    }
    if (points == 0) continue;
    s += "<path class=\"series\" data-name=\"" + xml_escape(sr.name) + "\" d=\"" + d + "\" fill=\"none\" stroke=\"" +
         color + "\" stroke-width=\"1.8\"" + (sr.dashed ? " stroke-dasharray=\"6 3\"" : "") + "/>\n";
    if (points == 1) {  // a single point shows as a dot
      for (size_t i = 0; i < sr.x.size(); ++i)
        if (std::isfinite(sr.x[i]) && std::isfinite(sr.y[i]))
          s += "<circle cx=\"" + num(px(sr.x[i])) + "\" cy=\"" + num(py(sr.y[i])) + "\" r=\"3\" fill=\"" + color + "\"/>\n";
    }
  }
  return "<g class=\"line-chart\">\n" + s + legend(c.series, a, false) + "</g>\n";
}

std::string draw_bar_chart(const BarChart& c, double x, double y, double w, double h) {
  Area a;
  std::string s = frame(c.title, c.x_label, c.y_label, x, y, w, h, a);
  Range ry;
  ry.add(0);
  for (const auto& sr : c.series) for (double v : sr.y) ry.add(v);
  ry.finish();
  ry.pad(0, 0.05);
  auto py = [&](double v) { return a.y + a.h - ry.frac(v) * a.h; };
  for (double t : nice_ticks(ry.lo, ry.hi, 5)) {
    s += line(a.x - 4, py(t), a.x + a.w, py(t), "stroke=\"#eee\"");
    s += text(a.x - 6, py(t) + 4, tick_label(t), "end", 11);
  }
  const size_t n_cat = std::max<size_t>(1, c.categories.size()), n_ser = std::max<size_t>(1, c.series.size());
  const double group = a.w / double(n_cat), bar = group * 0.8 / double(n_ser);
  for (size_t i = 0; i < c.categories.size(); ++i) {
    const double gx = a.x + group * double(i) + group * 0.1;
    if (c.categories.size() <= 32 || i % (c.categories.size() / 16 + 1) == 0)
      s += text(a.x + group * (double(i) + 0.5), a.y + a.h + 16, c.categories[i], "middle", 11);
    for (size_t k = 0; k < c.series.size(); ++k) {
      if (i >= c.series[k].y.size() || !std::isfinite(c.series[k].y[i])) continue;
      const double v = c.series[k].y[i], top = py(std::max(v, 0.0)), bottom = py(std::min(v, 0.0));
      // One series: a colour per category; several: a colour per series.
      const std::string color = !c.series[k].color.empty() ? c.series[k].color : palette(c.series.size() == 1 ? i : k);
      s += "<rect class=\"bar\" x=\"" + num(gx + bar * double(k)) + "\" y=\"" + num(top) + "\" width=\"" +
           num(bar * 0.95) + "\" height=\"" + num(bottom - top) + "\" fill=\"" + color + "\"/>\n";
    }
  }
  return "<g class=\"bar-chart\">\n" + s + legend(c.series, a, true) + "</g>\n";
}

std::string draw_heat_map(const HeatMap& c, double x, double y, double w, double h) {
  Area a;
  std::string s = frame(c.title, c.x_label, c.y_label, x, y, w, h, a);
  a.w -= 80;  // room for the colour scale
  Range r;
  size_t n_cols = 0;
  for (const auto& row : c.values) {
    n_cols = std::max(n_cols, row.size());
    for (double v : row) r.add(v);
  }
  r.finish();
  const size_t n_rows = std::max<size_t>(1, c.values.size());
  n_cols = std::max<size_t>(1, n_cols);
  const double cw = a.w / double(n_cols), ch = a.h / double(n_rows);
  // White (low) to dark blue (high).
  auto color = [&](double v) {
    const double t = std::clamp(r.frac(v), 0.0, 1.0);
    char b[16];
    std::snprintf(b, sizeof b, "#%02x%02x%02x", int(247 - t * (247 - 8)), int(251 - t * (251 - 48)),
                  int(255 - t * (255 - 107)));
    return std::string(b);
  };
  for (size_t i = 0; i < c.values.size(); ++i) {
    for (size_t j = 0; j < c.values[i].size(); ++j) {
      const double v = c.values[i][j];
      s += "<rect class=\"cell\" x=\"" + num(a.x + cw * double(j)) + "\" y=\"" + num(a.y + ch * double(i)) +
           "\" width=\"" + num(cw) + "\" height=\"" + num(ch) + "\" fill=\"" +
           (std::isfinite(v) ? color(v) : std::string("#ccc")) + "\"><title>" +
           xml_escape((i < c.row_labels.size() ? c.row_labels[i] : "") + " / " +
                      (j < c.col_labels.size() ? c.col_labels[j] : "") + ": " + tick_label(v)) +
           "</title></rect>\n";
    }
  }
  const size_t label_every_col = n_cols / 16 + 1, label_every_row = n_rows / 16 + 1;
  for (size_t j = 0; j < c.col_labels.size(); j += label_every_col)
    s += text(a.x + cw * (double(j) + 0.5), a.y + a.h + 16, c.col_labels[j], "middle", 11);
  for (size_t i = 0; i < c.row_labels.size(); i += label_every_row)
    s += text(a.x - 6, a.y + ch * (double(i) + 0.5) + 4, c.row_labels[i], "end", 11);
  // Colour scale.
  const double sx = a.x + a.w + 14;
  for (int k = 0; k < 20; ++k) {
    const double v = r.hi - (r.hi / 2 - r.lo / 2) * (k + 0.5) / 10;
    s += "<rect x=\"" + num(sx) + "\" y=\"" + num(a.y + a.h * k / 20) + "\" width=\"12\" height=\"" +
         num(a.h / 20 + 0.5) + "\" fill=\"" + color(v) + "\"/>\n";
  }
  char hi[32], lo[32];
  std::snprintf(hi, sizeof hi, "%.3g", r.hi);
  std::snprintf(lo, sizeof lo, "%.3g", r.lo);
  s += text(sx + 16, a.y + 10, hi, "start", 10);
  s += text(sx + 16, a.y + a.h, lo, "start", 10);
  return "<g class=\"heat-map\">\n" + s + "</g>\n";
}

std::string svg_document(double width, double height, const std::string& body) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         num(width) + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
         "\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n";
}

}  // namespace frugal::svg
