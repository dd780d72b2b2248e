// frugal plot: training metrics (the JSONL log of `frugal train`) as an SVG
// file: loss curves of one or several runs on one chart (to compare MoE with
// dense), then each layer's expert load and the router entropy over training.
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "base/svg_chart.h"
#include "cli/command.h"

namespace frugal::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One log: a row per line that has a step; absent fields are NaN.
struct RunLog {
  std::string name;  // the file name without directories and extension
  std::vector<double> step, train_loss, val_loss;
  std::vector<std::vector<std::vector<double>>> expert_load;  // [row][layer][expert] (rows with a load only)
  std::vector<double> load_step;
  std::vector<std::vector<double>> router_entropy;  // [row][layer]
  std::vector<double> entropy_step;
};

double number_or_nan(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return kNaN;
  if (!j[key].is_number()) fail("plot: field '", key, "' is not a number");
  return j[key].get<double>();
}

RunLog read_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("plot: cannot open '", path, "'");
  RunLog log;
  const size_t slash = path.find_last_of('/');
  log.name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  if (const size_t dot = log.name.rfind('.'); dot != std::string::npos && dot > 0) log.name.resize(dot);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("plot: ", path, " line ", n, " is not a JSON object");
    try {
      if (!j.contains("step")) continue;  // a header or summary line
      const double step = number_or_nan(j, "step");
      log.step.push_back(step);
      log.train_loss.push_back(number_or_nan(j, "train_loss"));
      log.val_loss.push_back(number_or_nan(j, "val_loss"));
      if (j.contains("expert_load") && j["expert_load"].is_array()) {
        log.expert_load.push_back(j["expert_load"].get<std::vector<std::vector<double>>>());
        log.load_step.push_back(step);
      }
      if (j.contains("router_entropy") && j["router_entropy"].is_array()) {
        log.router_entropy.push_back(j["router_entropy"].get<std::vector<double>>());
        log.entropy_step.push_back(step);
      }
    } catch (const nlohmann::json::exception& e) {
      fail("plot: ", path, " line ", n, ": ", e.what());
    } catch (const Error& e) {
      fail(path, " line ", n, ": ", e.what());
    }
  }
  if (log.step.empty()) fail("plot: ", path, " has no metrics (no line with a \"step\" field)");
  return log;
}

struct PlotArgs {
  std::vector<std::string> logs;
  std::string output;
  int width = 860, panel_height = 380;
  bool log_y = false;
};

int run_plot(const PlotArgs& a) {
  if (a.width < 300 || a.panel_height < 200) fail("plot: --width must be at least 300 and --height at least 200");
  std::vector<RunLog> runs;
  for (const std::string& p : a.logs) runs.push_back(read_log(p));
  std::vector<std::string> panels;

  svg::LineChart loss{"Loss", "step", "cross-entropy (nats/token)", {}, a.log_y};
  for (const RunLog& r : runs) {
    const std::string prefix = runs.size() > 1 ? r.name + " " : "";
    loss.series.push_back({prefix + "train", r.step, r.train_loss, false});
    loss.series.push_back({prefix + "validation", r.step, r.val_loss, true});
  }
  panels.push_back(svg::line_chart(loss, a.width, a.panel_height));

  // Expert load, one panel per layer of each run that logged it: the share
  // of routed tokens each expert received (1/n_expert is perfect balance).
  for (const RunLog& r : runs) {
    if (r.expert_load.empty()) continue;
    const size_t n_layer = r.expert_load.back().size();
    for (size_t l = 0; l < n_layer; ++l) {
      const size_t n_expert = r.expert_load.back()[l].size();
      if (n_expert < 2) continue;  // a dense layer has nothing to balance
      svg::LineChart load{r.name + ": expert load, layer " + std::to_string(l), "step", "share of routed tokens", {}, false};
      for (size_t e = 0; e < n_expert; ++e) {
        svg::Series s{"expert " + std::to_string(e), {}, {}, false};
        for (size_t row = 0; row < r.expert_load.size(); ++row) {
          const auto& layers = r.expert_load[row];
          if (l < layers.size() && e < layers[l].size()) {
            s.x.push_back(r.load_step[row]);
            s.y.push_back(layers[l][e]);
          }
        }
        load.series.push_back(std::move(s));
      }
      panels.push_back(svg::line_chart(load, a.width, a.panel_height));
    }
    if (!r.router_entropy.empty()) {
      svg::LineChart ent{r.name + ": router entropy", "step", "entropy (nats)", {}, false};
      for (size_t l = 0; l < r.router_entropy.back().size(); ++l) {
        svg::Series s{"layer " + std::to_string(l), {}, {}, false};
        for (size_t row = 0; row < r.router_entropy.size(); ++row)
          if (l < r.router_entropy[row].size()) {
            s.x.push_back(r.entropy_step[row]);
            s.y.push_back(r.router_entropy[row][l]);
          }
        ent.series.push_back(std::move(s));
      }
      panels.push_back(svg::line_chart(ent, a.width, a.panel_height));
    }
  }

  const std::string doc = svg::document(panels, a.width, a.panel_height);
  std::ofstream out(a.output, std::ios::binary);
  if (!out || !(out << doc) || !out.flush()) fail("plot: cannot write '", a.output, "'");
  log_info("plot: ", panels.size(), " chart", panels.size() == 1 ? "" : "s", " -> ", a.output);
  return 0;
}

const CommandRegistration kPlot{
    "plot", "draw training logs (loss curves, expert load, router entropy) as an SVG file", [](CLI::App& app) {
      auto a = std::make_shared<PlotArgs>();
      app.add_option("logs", a->logs, "metrics JSONL files written by frugal train --log")->required();
      app.add_option("-o,--output", a->output, "the SVG file to write")->required();
      app.add_flag("--log-y", a->log_y, "logarithmic loss axis");
      app.add_option("--width", a->width, "chart width in pixels (default 860)");
      app.add_option("--height", a->panel_height, "height of each chart in pixels (default 380)");
      return [a] { return run_plot(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
