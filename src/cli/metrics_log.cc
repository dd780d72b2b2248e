#include "cli/metrics_log.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/output_file.h"

namespace frugal::cli {

std::string eta_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

double truncate_log_to_step(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return 0.0;  // no log yet
  std::string kept, line;
  double seconds = 0.0;
  while (std::getline(in, line)) {
    const nlohmann::json rec = nlohmann::json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.is_object() || !rec.contains("step") || !rec["step"].is_number_integer()) continue;
    if (rec["step"].get<int64_t>() > step) continue;
    kept += line + "\n";
    if (rec.contains("seconds") && rec["seconds"].is_number()) seconds = rec["seconds"].get<double>();
  }
  in.close();
  write_output_file(path, kept);
  return seconds;
}

}  // namespace frugal::cli
