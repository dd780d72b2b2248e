#include "base/human_format.h"

#include <cstdio>

namespace frugal {
namespace {

// Scales n down by `step` until it is below it, and prints it with the unit
// reached: whole numbers for the base unit, two decimals above.
std::string scaled(double n, double step, const char* const units[5]) {
  int u = 0;
  while (n >= step && u < 4) n /= step, ++u;
  char b[32];
  std::snprintf(b, sizeof b, u == 0 ? "%.0f%s" : "%.2f%s", n, units[u]);
  return b;
}

}  // namespace

std::string human_bytes(double n) {
  static const char* const units[5] = {" B", " KiB", " MiB", " GiB", " TiB"};
  return scaled(n, 1024, units);
}

std::string human_count(double n) {
  static const char* const units[5] = {"", " K", " M", " B", " T"};
  return scaled(n, 1000, units);
}

}  // namespace frugal
