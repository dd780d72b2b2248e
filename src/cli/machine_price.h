// The price of the machine, for the $ per million tokens of frugal bench and
// frugal bench-serve (one default, so the two commands agree).
#pragma once

namespace frugal::cli {

// A typical on-demand price of one vCPU-hour of a general-purpose cloud
// machine: $0.1008 an hour for 2 vCPUs (source and date in
// docs/usage/bench.md). The default price is this times the logical CPUs of
// the machine; --price-per-hour sets another.
constexpr double kPricePerVcpuHour = 0.0504;

double default_price_per_hour();

// What a million tokens cost on a machine of `price_per_hour` that makes
// `tokens_per_second`; 0 when nothing was made.
double usd_per_million(double price_per_hour, double tokens_per_second);

}  // namespace frugal::cli
