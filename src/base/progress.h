// A progress bar on stderr for long work (loading, quantizing, training,
// benchmarking). On a terminal it redraws one line; otherwise it prints a line
// at every 10% so that logs stay short.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace frugal {

class Progress {
 public:
  // total: units of work (bytes, steps, tensors); unit: shown after the counts.
  Progress(std::string label, uint64_t total, std::string unit = "");
  ~Progress();
  void set_label(const std::string& label) { label_ = label; }
  void update(uint64_t done);  // absolute amount done so far
  void add(uint64_t delta) { update(done_ + delta); }
  void finish();
  // Globally silence all bars (tests, --quiet).
  static void set_enabled(bool enabled);

 private:
  void draw(bool final_line);
  std::string label_, unit_;
  uint64_t total_, done_ = 0;
  int last_decile_ = -1;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace frugal
