#include "base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace frugal {

namespace {
bool g_enabled = true;

std::string human(uint64_t v, const std::string& unit) {
  char buf[64];
  if (unit == "B") {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = static_cast<double>(v);
    int u = 0;
    while (x >= 1024 && u < 4) x /= 1024, ++u;
    std::snprintf(buf, sizeof buf, "%.1f %s", x, units[u]);
  } else {
    std::snprintf(buf, sizeof buf, "%llu%s%s", static_cast<unsigned long long>(v), unit.empty() ? "" : " ", unit.c_str());
  }
  return buf;
}
}  // namespace

void Progress::set_enabled(bool enabled) { g_enabled = enabled; }

Progress::Progress(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      tty_(isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {
  last_draw_ = start_ - std::chrono::seconds(1);
}

Progress::~Progress() { finish(); }

void Progress::update(uint64_t done) {
  done_ = std::min(done, total_);
  if (!g_enabled || finished_) return;
  auto now = std::chrono::steady_clock::now();
  // No work at all (an empty input, /dev/null) is complete from the start.
  int decile = total_ ? static_cast<int>(done_ * 10 / total_) : 10;
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
    last_draw_ = now;
    draw(false);
  } else if (decile != last_decile_) {
    last_decile_ = decile;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  if (g_enabled && (tty_ || last_decile_ != 10)) {
    done_ = total_;
    draw(true);
  }
  finished_ = true;
}

void Progress::draw(bool final_line) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  char eta[32] = "";
  if (!final_line && frac > 0.01) std::snprintf(eta, sizeof eta, " eta %.0fs", secs / frac - secs);
  if (tty_) {
    const int width = 30;
    int fill = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(fill), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %3.0f%% %s/%s %.1fs%s\x1b[K%s", label_.c_str(), bar.c_str(), frac * 100,
                 human(done_, unit_).c_str(), human(total_, unit_).c_str(), secs, eta, final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s: %3.0f%% %s/%s %.1fs%s\n", label_.c_str(), frac * 100, human(done_, unit_).c_str(),
                 human(total_, unit_).c_str(), secs, eta);
    if (final_line) last_decile_ = 10;
  }
  std::fflush(stderr);
}

}  // namespace frugal
