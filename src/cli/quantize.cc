// frugal quantize IN.gguf OUT.gguf TYPE: re-encode a model's tensors to a
// plain type or a recipe (q4_k_m, q3_k_m, iq2_xxs_mix, ...), streaming the output.
#include <chrono>
#include <cstdio>
#include <map>

#include "base/error.h"
#include "base/human_format.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "cli/command.h"
#include "quant/recipe.h"
#include "quant/requantize.h"

namespace frugal::cli {
namespace {

struct QuantizeArgs {
  std::string input, output, type, imatrix;
  int threads = 0;
  bool keep_types = false, verbose_list = false, repack = false;
};

int run_quantize(const QuantizeArgs& a) {
  if (a.threads < 0) fail("quantize: --threads must be positive, got ", a.threads);
  if (a.threads > 0) ThreadPool::set_default_threads(a.threads);
  quant::RequantizeOptions opts;
  opts.recipe_or_type = a.type;
  opts.keep_quantized = a.keep_types;
  opts.repack = a.repack;
  quant::Imatrix imatrix;
  if (!a.imatrix.empty()) {
    imatrix = quant::read_imatrix(a.imatrix);
    opts.imatrix = &imatrix;
    opts.imatrix_path = a.imatrix;
  }
  if (log_level() < LogLevel::kInfo) opts.progress_label = "";  // -q: errors only
  const auto t0 = std::chrono::steady_clock::now();
  const quant::RequantizeSummary s = quant::requantize_file(a.input, a.output, opts);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  struct TypeTotal {
    int tensors = 0;
    uint64_t bytes = 0, elements = 0;
  };
  std::map<std::string, TypeTotal> by_type;
  int copied = 0;
  for (const auto& t : s.tensors) {
    auto& e = by_type[tensor_type_name(t.to)];
    e.tensors += 1;
    e.bytes += t.bytes_out;
    e.elements += t.n_elements;
    if (t.from == t.to) ++copied;
    if (a.verbose_list)
      std::printf("  %-36s %-6s -> %-6s %10s  %s\n", t.name.c_str(), tensor_type_name(t.from), tensor_type_name(t.to),
                  human_bytes(double(t.bytes_out)).c_str(), t.reason.c_str());
  }
  const double bits_per_weight = s.n_elements ? 8.0 * double(s.bytes_out) / double(s.n_elements) : 0.0;
  const double all_elements = double(s.n_elements ? s.n_elements : 1);
  std::printf("wrote %s: %s, general.file_type %u, %zu tensors (%d copied unchanged), %s -> %s (%.2f bits per weight), "
              "%.1f s\n",
              a.output.c_str(), a.type.c_str(), s.file_type, s.tensors.size(), copied,
              human_bytes(double(s.bytes_in)).c_str(), human_bytes(double(s.bytes_out)).c_str(),
              bits_per_weight, secs);
  for (const auto& [type, e] : by_type)
    std::printf("  %-8s %4d tensors %11s  %5.1f%% of weights\n", type.c_str(), e.tensors,
                human_bytes(double(e.bytes)).c_str(), 100.0 * double(e.elements) / all_elements);
  return 0;
}

const CommandRegistration kQuantize{
    "quantize", "re-encode a model's tensors to another type or a recipe (q4_k_m)", [](CLI::App& app) {
      auto a = std::make_shared<QuantizeArgs>();
      app.add_option("input", a->input, "input GGUF file")->required();
      app.add_option("output", a->output, "output GGUF file")->required();
      app.add_option("type", a->type,
                     "f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs iq3_s iq3_xxs iq2_s iq2_xs iq2_xxs iq1_m iq1_s, "
                     "or a recipe: " + quant::recipe_names())
          ->required();
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      app.add_option("--imatrix", a->imatrix,
                     "importance matrix (GGUF or legacy .dat, from frugal imatrix or llama-imatrix) to weight the "
                     "k-quant and IQ scale searches");
      app.add_flag("--keep-types", a->keep_types, "copy tensors that are already quantised as they are");
      app.add_flag("--list", a->verbose_list, "print every tensor's old and new type and why");
      app.add_flag("--repack", a->repack,
                   "store q5_0, q8_0, q4_k and q6_k matrices row-interleaved (q5_0_r16, q8_0_r16, q4_k_r16, "
                   "q6_k_r16): loads with no repacking, "
                   "read only by frugal");
      return [a] { return run_quantize(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
