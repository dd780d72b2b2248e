// frugal: one binary, one subcommand per job (see `frugal --help`).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>

#include "base/error.h"
#include "base/log.h"
#include "cli/command.h"
#include "cli/error_text.h"

namespace frugal::cli {
std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}
}  // namespace frugal::cli

int main(int argc, char** argv) {
  using namespace frugal;
  CLI::App app{"frugal: cheap Mixture-of-Experts language models on your own hardware"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "frugal 0.1.0");
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "more diagnostics on stderr");
  app.add_flag("-q,--quiet", quiet, "only errors on stderr");

  auto& registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<CLI::App*, std::function<int()>> actions;
  for (auto& spec : registry) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.help);
    actions[sub] = spec.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every malformed command line exits 1, as
    // every other error does (CLI11's own codes would vary by kind).
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (verbose) set_log_level(LogLevel::kDebug);
  if (quiet) set_log_level(LogLevel::kError);
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", cli::error_text(e).c_str());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", cli::error_text(e).c_str());
    return 1;
  }
  return 0;
}
