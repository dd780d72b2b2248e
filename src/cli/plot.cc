// frugal plot: training metrics (JSONL from frugal train) -> one SVG figure:
// loss curves (train solid, validation dashed) of every log on one chart, the
// learning rate, the MoE expert load (imbalance over steps and a heat map of
// the final load per layer and expert), router entropy and throughput.
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
  std::vector<double> step, train_loss, val_loss, lr, tokens_per_second, imbalance, entropy;
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

int run_plot(const std::vector<std::string>& files, std::vector<std::string> labels, const std::string& out) {
  if (files.empty()) fail("plot: give at least one metrics log (JSONL)");
  if (out.empty()) fail("plot: give the output file (-o FILE.svg)");
  if (!labels.empty() && labels.size() != files.size())
    fail("plot: ", labels.size(), " --label for ", files.size(), " logs (give one per log or none)");
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
  }

  const double width = 900, panel_h = 320;
  std::vector<std::string> panels;
  auto add_line_panel = [&](const std::string& title, const std::string& y_label,
                            const std::vector<svg::Series>& series) {
    svg::LineChart c{title, "step", y_label, series};
    panels.push_back(svg::draw_line_chart(c, 0, panel_h * double(panels.size()), width, panel_h));
  };

  std::vector<svg::Series> loss;
  for (size_t k = 0; k < logs.size(); ++k) {
    const Log& l = logs[k];
    const std::string prefix = logs.size() > 1 ? l.name + " " : "";
    if (any_finite(l.train_loss)) loss.push_back({prefix + "train", l.step, l.train_loss, svg::palette(k), false});
    if (any_finite(l.val_loss)) loss.push_back({prefix + "val", l.step, l.val_loss, svg::palette(k), true});
  }
  if (loss.empty()) fail("plot: the logs hold no train_loss or val_loss values");
  add_line_panel("Loss", "cross-entropy (nats/token)", loss);

  std::vector<svg::Series> lr, imbalance, entropy;
  for (size_t k = 0; k < logs.size(); ++k) {
    const Log& l = logs[k];
    if (any_finite(l.lr)) lr.push_back({l.name, l.step, l.lr, svg::palette(k), false});
    if (any_finite(l.imbalance)) imbalance.push_back({l.name, l.step, l.imbalance, svg::palette(k), false});
    if (any_finite(l.entropy)) entropy.push_back({l.name, l.step, l.entropy, svg::palette(k), false});
  }
  if (!lr.empty()) add_line_panel("Learning rate", "lr", lr);
  if (!imbalance.empty()) add_line_panel("Expert load imbalance (1 = balanced)", "max share x experts, layer mean", imbalance);
  if (!entropy.empty()) add_line_panel("Router entropy", "nats, layer mean", entropy);
  for (const Log& l : logs) {
    if (l.final_load.empty()) continue;
    svg::HeatMap h;
    h.title = "Final expert load: " + l.name;
    h.x_label = "expert";
    h.y_label = "layer";
    h.values = l.final_load;
    size_t n_exp = 0;
    for (const auto& row : h.values) n_exp = std::max(n_exp, row.size());
    for (size_t i = 0; i < h.values.size(); ++i) h.row_labels.push_back(std::to_string(i));
    for (size_t j = 0; j < n_exp; ++j) h.col_labels.push_back(std::to_string(j));
    panels.push_back(svg::draw_heat_map(h, 0, panel_h * double(panels.size()), width, panel_h));
  }
  svg::BarChart speed;
  speed.title = "Throughput (mean)";
  speed.x_label = "log";
  speed.y_label = "tokens / s";
  svg::Series means{"", {}, {}, "", false};
  bool have_speed = false;
  for (const Log& l : logs) {
    double sum = 0;
    int n = 0;
    for (double v : l.tokens_per_second) if (std::isfinite(v)) { sum += v; ++n; }
    speed.categories.push_back(l.name);
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
      app.add_option("logs", *files, "metrics logs written by frugal train (one JSON object per line)");
      app.add_option("--label", *labels, "name of each log in the legend (default: the file name)");
      app.add_option("-o,--output", *out, "output SVG file");
      return [files, labels, out] { return run_plot(*files, *labels, *out); };
    }};

}  // namespace
}  // namespace frugal::cli
