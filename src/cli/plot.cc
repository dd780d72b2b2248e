// frugal plot: training metrics (JSONL from frugal train) -> one SVG figure:
// loss curves (train solid, validation dashed) of every log on one chart, the
// learning rate, the MoE expert load (imbalance over steps and a heat map of
// the final load per layer and expert), router entropy and throughput.
// Logs given the same --label are runs of one model (seeds): they are drawn as
// their mean with a band from the lowest to the highest run. The x axis is the
// step, the training tokens or the training seconds (--x).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/log.h"
#include "base/output_file.h"
#include "base/svg_chart.h"
#include "cli/command.h"

namespace frugal::cli {
namespace {

using nlohmann::json;

struct Log {
  std::string name;
  std::vector<double> step, tokens, seconds, train_loss, val_loss, lr, tokens_per_second, imbalance, entropy;
  std::vector<std::vector<double>> final_load;  // [layer][expert] of the last record that has it
};

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

// A number field, NaN when absent or null; anything else is an error.
double number_field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return nan();
  if (!j[key].is_number()) fail("plot: ", where, ": \"", key, "\" is not a number");
  return j[key].get<double>();
}

std::vector<std::vector<double>> load_matrix(const json& j, const std::string& where) {
  if (!j.is_array()) fail("plot: ", where, ": \"expert_load\" must be an array (per layer) of arrays (per expert)");
  std::vector<std::vector<double>> m;
  for (const json& layer : j) {
    if (!layer.is_array() || layer.empty())
      fail("plot: ", where, ": \"expert_load\" must be an array (per layer) of non-empty arrays (per expert)");
    m.emplace_back();
    for (const json& v : layer) {
      if (!v.is_number()) fail("plot: ", where, ": \"expert_load\" holds a value that is not a number");
      m.back().push_back(v.get<double>());
    }
  }
  return m;
}

Log read_log(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  if (!in) fail("plot: cannot open '", path, "'");
  Log log;
  log.name = name;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    json j = json::parse(line, nullptr, false);
    // A training run killed while writing leaves its last line cut short
    // (no newline after it): that record is dropped, as train --resume does.
    if (j.is_discarded() && in.eof()) {
      log_warn("plot: ", where, ": the last line is cut short (a killed run?); left out");
      break;
    }
    if (j.is_discarded()) fail("plot: ", where, ": not valid JSON");
    if (!j.is_object()) fail("plot: ", where, ": a line must be a JSON object");
    const double step = number_field(j, "step", where);
    if (std::isnan(step)) fail("plot: ", where, ": no \"step\"");
    log.step.push_back(step);
    log.tokens.push_back(number_field(j, "tokens", where));
    log.seconds.push_back(number_field(j, "seconds", where));
    log.train_loss.push_back(number_field(j, "train_loss", where));
    log.val_loss.push_back(number_field(j, "val_loss", where));
    log.lr.push_back(number_field(j, "lr", where));
    log.tokens_per_second.push_back(number_field(j, "tokens_per_second", where));
    double imbalance = nan(), entropy = nan();
    if (j.contains("expert_load") && !j["expert_load"].is_null()) {
      log.final_load = load_matrix(j["expert_load"], where);
      // Mean over layers of (largest share x experts): 1 when every expert gets the same share.
      double sum = 0;
      for (const auto& layer : log.final_load) sum += *std::max_element(layer.begin(), layer.end()) * double(layer.size());
      imbalance = sum / double(log.final_load.size());
    }
    if (j.contains("router_entropy") && !j["router_entropy"].is_null()) {
      const json& e = j["router_entropy"];
      if (!e.is_array() || e.empty()) fail("plot: ", where, ": \"router_entropy\" must be a non-empty array (per layer)");
      double sum = 0;
      for (const json& v : e) {
        if (!v.is_number()) fail("plot: ", where, ": \"router_entropy\" holds a value that is not a number");
        sum += v.get<double>();
      }
      entropy = sum / double(e.size());
    }
    log.imbalance.push_back(imbalance);
    log.entropy.push_back(entropy);
  }
  if (log.step.empty()) fail("plot: '", path, "' holds no records");
  return log;
}

bool any_finite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

// The x axes frugal train logs: a record's step, the training tokens so far,
// the training seconds so far (evaluation left out).
struct XAxis {
  const char* name;
  const char* label;
  std::vector<double> Log::*field;
};
const XAxis kXAxes[] = {
    {.name = "step", .label = "step", .field = &Log::step},
    {.name = "tokens", .label = "training tokens", .field = &Log::tokens},
    {.name = "seconds", .label = "training time (s), evaluation left out", .field = &Log::seconds},
};

// The runs that share a label: one curve, their mean, with the band of the lowest and highest run.
struct Group {
  std::string name;
  std::vector<const Log*> runs;
};

std::vector<Group> group_by_name(const std::vector<Log>& logs) {
  std::vector<Group> groups;
  for (const Log& l : logs) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.name == l.name; });
    if (g == groups.end()) groups.push_back({l.name, {&l}});
    else g->runs.push_back(&l);
  }
  return groups;
}

std::string runs_text(const Group& g) {
  return g.runs.size() > 1 ? ", mean of " + std::to_string(g.runs.size()) : "";
}

// One series of a group: at each step every run logged (so a run still going
// cuts the group's curve short, instead of its mean jumping between runs),
// the mean of x and of the field over the runs; lo/hi the runs' extremes when
// there are several. Points before x_min are left out.
svg::Series group_series(const std::string& name, const Group& g, std::vector<double> Log::*x,
                         std::vector<double> Log::*field, size_t color, bool dashed, double x_min) {
  std::vector<double> steps;
  for (const Log* l : g.runs) steps.insert(steps.end(), l->step.begin(), l->step.end());
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  svg::Series s{name, {}, {}, svg::palette(color), dashed};
  for (double step : steps) {
    double sx = 0, sy = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
    int n = 0;
    for (const Log* l : g.runs) {
      const auto it = std::lower_bound(l->step.begin(), l->step.end(), step);
      if (it == l->step.end() || *it != step) continue;
      const size_t i = size_t(it - l->step.begin());
      const double vx = ((*l).*x)[i], vy = ((*l).*field)[i];
      if (!std::isfinite(vx) || !std::isfinite(vy)) continue;
      sx += vx;
      sy += vy;
      lo = std::min(lo, vy);
      hi = std::max(hi, vy);
      ++n;
    }
    if (n == 0 || n != static_cast<int>(g.runs.size()) || sx / n < x_min) continue;
    s.x.push_back(sx / n);
    s.y.push_back(sy / n);
    s.lo.push_back(lo);
    s.hi.push_back(hi);
  }
  if (g.runs.size() < 2) {
    s.lo.clear();
    s.hi.clear();
  }
  return s;
}

// The mean final expert load of a group's runs that have one of the first's shape.
svg::HeatMap final_load_map(const Group& g) {
  svg::HeatMap h;
  h.title = "Final expert load: " + g.name + runs_text(g);
  h.x_label = "expert";
  h.y_label = "layer";
  int n = 0;
  for (const Log* l : g.runs) {
    if (l->final_load.empty()) continue;
    if (n == 0) {
      h.values = l->final_load;
      n = 1;
      continue;
    }
    bool same = l->final_load.size() == h.values.size();
    for (size_t i = 0; same && i < h.values.size(); ++i) same = l->final_load[i].size() == h.values[i].size();
    if (!same) continue;
    for (size_t i = 0; i < h.values.size(); ++i)
      for (size_t j = 0; j < h.values[i].size(); ++j) h.values[i][j] += l->final_load[i][j];
    ++n;
  }
  for (auto& row : h.values)
    for (double& v : row) v /= n;
  size_t n_exp = 0;
  for (const auto& row : h.values) n_exp = std::max(n_exp, row.size());
  for (size_t i = 0; i < h.values.size(); ++i) h.row_labels.push_back(std::to_string(i));
  for (size_t j = 0; j < n_exp; ++j) h.col_labels.push_back(std::to_string(j));
  return h;
}

int run_plot(const std::vector<std::string>& files, std::vector<std::string> labels, const std::string& out,
             const std::string& x_name, double x_min) {
  if (files.empty()) fail("plot: give at least one metrics log (JSONL)");
  if (out.empty()) fail("plot: give the output file (-o FILE.svg)");
  if (!labels.empty() && labels.size() != files.size())
    fail("plot: ", labels.size(), " --label for ", files.size(), " logs (give one per log or none)");
  const XAxis* axis = nullptr;
  std::string axis_names;
  for (const XAxis& a : kXAxes) {
    if (x_name == a.name) axis = &a;
    axis_names += (axis_names.empty() ? "" : ", ") + std::string(a.name);
  }
  if (!axis) fail("plot: --x is one of ", axis_names, ", not '", x_name, "'");
  if (std::isnan(x_min)) fail("plot: --x-min is not a number");
  // The figure must never replace a log it is drawn from.
  for (const auto& f : files) {
    std::error_code ec;
    if (std::filesystem::equivalent(f, out, ec))
      fail("plot: the output '", out, "' is the metrics log '", f, "' itself; give another -o");
  }
  std::vector<Log> logs;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string name = labels.empty() ? std::filesystem::path(files[i]).stem().string() : labels[i];
    logs.push_back(read_log(files[i], name));
    if (!any_finite(logs.back().*(axis->field)))
      fail("plot: '", files[i], "' has no \"", axis->name, "\" in any record (older logs lack it); use --x step");
  }
  // Runs of a group are matched by step, so each must hold a step once, in order.
  const std::vector<Group> groups = group_by_name(logs);
  for (const Log& l : logs) {
    const bool grouped = std::any_of(groups.begin(), groups.end(),
                                     [&](const Group& g) { return g.name == l.name && g.runs.size() > 1; });
    if (grouped && std::adjacent_find(l.step.begin(), l.step.end(), std::greater_equal<double>()) != l.step.end())
      fail("plot: a run of '", l.name, "' logs its steps out of order or twice; runs of one label are matched by step");
  }

  const double width = 900, panel_h = 320;
  std::vector<std::string> panels;
  auto add_line_panel = [&](const std::string& title, const std::string& y_label,
                            const std::vector<svg::Series>& series) {
    svg::LineChart c{title, axis->label, y_label, series};
    panels.push_back(svg::draw_line_chart(c, 0, panel_h * double(panels.size()), width, panel_h));
  };
  // One series of a field per group that logged it; the loss panel names the
  // run count and shades the runs' spread.
  auto series_of = [&](std::vector<double> Log::*field, const std::string& suffix, bool dashed, bool bands) {
    std::vector<svg::Series> v;
    for (size_t k = 0; k < groups.size(); ++k) {
      const Group& g = groups[k];
      if (std::none_of(g.runs.begin(), g.runs.end(), [&](const Log* l) { return any_finite(l->*field); })) continue;
      std::string name = groups.size() > 1 || suffix.empty() ? g.name + suffix : suffix.substr(1);
      if (bands) name += runs_text(g);
      v.push_back(group_series(name, g, axis->field, field, k, dashed, x_min));
      if (!bands) {
        v.back().lo.clear();
        v.back().hi.clear();
      }
    }
    return v;
  };

  std::vector<svg::Series> loss = series_of(&Log::train_loss, " train", false, true);
  for (svg::Series& s : series_of(&Log::val_loss, " val", true, true)) loss.push_back(std::move(s));
  if (loss.empty()) fail("plot: the logs hold no train_loss or val_loss values");
  const bool banded = std::any_of(groups.begin(), groups.end(), [](const Group& g) { return g.runs.size() > 1; });
  add_line_panel(banded ? "Loss (bands: lowest to highest run)" : "Loss", "cross-entropy (nats/token)", loss);

  const std::vector<svg::Series> lr = series_of(&Log::lr, "", false, false);
  const std::vector<svg::Series> imbalance = series_of(&Log::imbalance, "", false, false);
  const std::vector<svg::Series> entropy = series_of(&Log::entropy, "", false, false);
  if (!lr.empty()) add_line_panel("Learning rate", "lr", lr);
  if (!imbalance.empty()) add_line_panel("Expert load imbalance (1 = balanced)", "max share x experts, layer mean", imbalance);
  if (!entropy.empty()) add_line_panel("Router entropy", "nats, layer mean", entropy);
  // A dense model's "load" (one expert a layer, all of it) is left out.
  auto routes = [](const Log* l) {
    return std::any_of(l->final_load.begin(), l->final_load.end(), [](const auto& layer) { return layer.size() > 1; });
  };
  for (const Group& g : groups) {
    if (std::none_of(g.runs.begin(), g.runs.end(), routes)) continue;
    panels.push_back(svg::draw_heat_map(final_load_map(g), 0, panel_h * double(panels.size()), width, panel_h));
  }
  svg::BarChart speed;
  speed.title = "Throughput (mean)";
  speed.x_label = "log";
  speed.y_label = "tokens / s";
  svg::Series means{"", {}, {}, "", false};
  bool have_speed = false;
  for (const Group& g : groups) {
    double sum = 0;
    int n = 0;
    for (const Log* l : g.runs)
      for (double v : l->tokens_per_second) if (std::isfinite(v)) { sum += v; ++n; }
    speed.categories.push_back(g.name);
    means.y.push_back(n ? sum / n : nan());
    have_speed |= n > 0;
  }
  speed.series.push_back(means);
  if (have_speed) panels.push_back(svg::draw_bar_chart(speed, 0, panel_h * double(panels.size()), width, panel_h));

  std::string body;
  for (const auto& p : panels) body += p;
  write_output_file(out, svg::svg_document(width, panel_h * double(panels.size()), body));
  std::cout << "wrote " << out << ": " << panels.size() << " panels from " << logs.size() << " log"
            << (logs.size() > 1 ? "s" : "") << "\n";
  return 0;
}

const CommandRegistration kPlot{
    "plot", "training metrics (JSONL) -> SVG charts: loss curves, expert load, comparisons", [](CLI::App& app) {
      auto files = std::make_shared<std::vector<std::string>>();
      auto labels = std::make_shared<std::vector<std::string>>();
      auto out = std::make_shared<std::string>();
      auto x = std::make_shared<std::string>("step");
      auto x_min = std::make_shared<double>(-std::numeric_limits<double>::infinity());
      app.add_option("logs", *files, "metrics logs written by frugal train (one JSON object per line)");
      app.add_option("--label", *labels,
                     "name of each log in the legend (default: the file name); logs with the same name are runs "
                     "of one model, drawn as their mean and the band from the lowest to the highest");
      app.add_option("-o,--output", *out, "output SVG file");
      app.add_option("--x", *x, "x axis of the line charts: step (default), tokens (training tokens) or seconds "
                                "(training time, evaluation left out)");
      app.add_option("--x-min", *x_min, "leave out the points before this x (to see the end of the curves)");
      return [files, labels, out, x, x_min] { return run_plot(*files, *labels, *out, *x, *x_min); };
    }};

}  // namespace
}  // namespace frugal::cli
