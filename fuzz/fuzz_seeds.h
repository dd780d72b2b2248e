// The seed protocol every fuzz target shares: with FRUGAL_FUZZ_WRITE_SEEDS=DIR
// in the environment the binary writes its seed corpus into DIR (valid inputs
// made by frugal's own writers) and exits, which scripts/fuzz runs before
// fuzzing. A seed that cannot be made is an error (exit 1), not an empty corpus.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace frugal::fuzz {

// Call first in LLVMFuzzerInitialize; returns only when no seeds were asked for.
inline void write_seeds_if_asked(void (*write_seeds)(const std::string& dir)) {
  const char* dir = std::getenv("FRUGAL_FUZZ_WRITE_SEEDS");
  if (!dir) return;
  try {
    write_seeds(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seed corpus: %s\n", e.what());
    std::exit(1);
  }
  std::exit(0);
}

}  // namespace frugal::fuzz
