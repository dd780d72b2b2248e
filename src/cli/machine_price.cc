#include "cli/machine_price.h"

#include <thread>

namespace frugal::cli {

double default_price_per_hour() {
  const unsigned cpus = std::thread::hardware_concurrency();
  return kPricePerVcpuHour * (cpus > 0 ? cpus : 1);
}

double usd_per_million(double price_per_hour, double tokens_per_second) {
  return tokens_per_second > 0 ? price_per_hour / (tokens_per_second * 3600.0) * 1e6 : 0;
}

}  // namespace frugal::cli
