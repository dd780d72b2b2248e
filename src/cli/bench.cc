// frugal bench: prompt processing and generation speed, generation as a share
// of the memory-bandwidth roofline, and $ per million tokens, in a table in
// the style of llama-bench (or JSON).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/human_format.h"
#include "base/log.h"
#include "base/memory_bandwidth.h"
#include "base/thread_pool.h"
#include "cli/command.h"
#include "cli/expert_parallel_flags.h"
#include "cli/id_list.h"
#include "cli/machine_price.h"
#include "gguf/summary.h"
#include "runtime/benchmark.h"

namespace frugal::cli {
namespace {

struct BenchArgs {
  std::string model, batches = "1";
  int n_prompt = 512, n_gen = 128, threads = 0, reps = 3, bandwidth_mib = 1024;
  double price_per_hour = std::nan(""), bandwidth_gbs = 0;  // price unset (NaN): default_price_per_hour()
  std::string kv_type = "f16";
  bool json = false, repack = false, mmap = false;
  ExpertParallelFlags expert_parallel;
};

// Share of the roofline: decode steps per second achieved against
// bandwidth / bytes read per step.
double roofline_percent(const runtime::BenchResult& r, double bandwidth) {
  if (r.bytes_per_step <= 0 || bandwidth <= 0) return 0;
  return 100.0 * (r.mean_tps / r.batch) / (bandwidth / r.bytes_per_step);
}

std::string main_type(const gguf::FileSummary& s) {
  return s.by_type.empty() ? "?" : tensor_type_name(s.by_type.front().type);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run_bench(BenchArgs a) {
  if (a.threads < 0) fail("bench: --threads must not be negative");
  if (std::isnan(a.price_per_hour)) a.price_per_hour = default_price_per_hour();
  if (a.price_per_hour < 0) fail("bench: --price-per-hour must not be negative");
  if (a.bandwidth_mib < 1) fail("bench: --bandwidth-mib must be at least 1");
  runtime::BenchOptions o;
  o.n_prompt = a.n_prompt;
  o.n_gen = a.n_gen;
  o.reps = a.reps;
  o.kv_type = model::kv_type_from_name(a.kv_type);
  o.batches.clear();
  for (int32_t b : parse_id_list(a.batches, "bench: -b", "batch size")) o.batches.push_back(b);
  o.progress = [](const std::string& s) { log_info("bench: ", s); };
  runtime::check_bench_options(o);  // before the slow parts: loading, measuring bandwidth
  if (a.threads > 0) ThreadPool::set_default_threads(a.threads);
  ThreadPool& pool = ThreadPool::global();
  dist::ProcessGroup* group = join_expert_parallel(a.expert_parallel);

  // Load and first token are timed before anything else touches the file:
  // with the file in the page cache this is the start-up a user waits for.
  const auto t_load = std::chrono::steady_clock::now();
  std::unique_ptr<model::Model> m = model::Model::load(
      a.model, {.repack = a.repack, .in_memory = !a.mmap && !a.expert_parallel.on, .threads = pool.size()});
  attach_expert_parallel(group, *m, a.expert_parallel);
  if (group && a.expert_parallel.rows_by_all_to_all()) {
    o.rank = group->rank();  // each rank decodes its share of the sequences
    o.n_ranks = group->n_ranks();
  }
  const double load_seconds = seconds_since(t_load);
  const auto t_attached = std::chrono::steady_clock::now();  // the expert-parallel report's span
  const double first_token_seconds = load_seconds + runtime::time_first_token(*m, o.kv_type);
  const gguf::FileSummary summary = gguf::summarize(m->file());
  double bandwidth = a.bandwidth_gbs * 1e9, bandwidth_seconds = 0;
  if (bandwidth <= 0) {
    log_info("bench: measuring memory read bandwidth (", a.bandwidth_mib, " MiB buffer, ", pool.size(), " threads)");
    const auto t_bandwidth = std::chrono::steady_clock::now();
    bandwidth = measure_read_bandwidth(pool, static_cast<size_t>(a.bandwidth_mib) << 20).bytes_per_second;
    bandwidth_seconds = seconds_since(t_bandwidth);
  }
  const std::vector<runtime::BenchResult> results = runtime::run_benchmark(*m, o);
  report_expert_parallel(group, *m, seconds_since(t_attached) - bandwidth_seconds);

  const std::string name = a.model.substr(a.model.find_last_of('/') + 1);
  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["architecture"] = summary.architecture;
    j["size_bytes"] = summary.bytes;
    j["parameters"] = summary.parameters;
    j["active_parameters"] = summary.active_parameters;
    j["type"] = main_type(summary);
    j["threads"] = pool.size();
    j["kv_type"] = a.kv_type;
    j["bandwidth_gb_per_s"] = bandwidth / 1e9;
    j["price_per_hour_usd"] = a.price_per_hour;
    j["load_seconds"] = load_seconds;
    j["repacked_bytes"] = m->repacked().bytes;
    j["repack_seconds"] = m->repacked().seconds;
    j["copied_bytes"] = m->repacked().copied_bytes;
    j["first_token_seconds"] = first_token_seconds;
    j["results"] = nlohmann::ordered_json::array();
    for (const auto& r : results) {
      nlohmann::ordered_json x;
      x["test"] = r.test;
      x["batch"] = r.batch;
      x["tokens"] = r.tokens;
      x["tokens_per_second"] = r.mean_tps;
      x["tokens_per_second_sd"] = r.sd_tps;
      x["per_stream_tokens_per_second"] = r.per_stream_tps;
      if (r.bytes_per_step > 0) {
        x["bytes_per_step"] = r.bytes_per_step;
        x["roofline_percent"] = roofline_percent(r, bandwidth);
      }
      x["usd_per_million_tokens"] = usd_per_million(a.price_per_hour, r.mean_tps);
      x["seconds"] = r.seconds;
      j["results"].push_back(x);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("memory read bandwidth: %.1f GB/s (%d threads)   price: $%.4f per hour\n", bandwidth / 1e9, pool.size(),
              a.price_per_hour);
  std::printf("load: %.3f s (repacking %s, copying %s into memory: %.3f s)   first token of work after: %.3f s\n\n",
              load_seconds, human_bytes(static_cast<double>(m->repacked().bytes)).c_str(),
              human_bytes(static_cast<double>(m->repacked().copied_bytes)).c_str(), m->repacked().seconds,
              first_token_seconds);
  if (!m->repacked().skipped.empty()) log_info("bench: weights left in the file mapping: ", m->repacked().skipped);
  std::printf("| %-24s | %10s | %10s | %-6s | %7s | %-10s | %18s | %12s | %10s | %9s |\n", "model", "size", "params", "type",
              "threads", "test", "t/s", "t/s/stream", "roofline", "$/M tok");
  std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", std::string(24, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str(), std::string(6, '-').c_str(),
              std::string(7, '-').c_str(), std::string(10, '-').c_str(), std::string(18, '-').c_str(),
              std::string(12, '-').c_str(), std::string(10, '-').c_str(), std::string(9, '-').c_str());
  for (const auto& r : results) {
    char tps[64], stream[32], roof[32];
    std::snprintf(tps, sizeof tps, "%.2f ± %.2f", r.mean_tps, r.sd_tps);
    std::snprintf(stream, sizeof stream, "%.2f", r.per_stream_tps);
    if (r.bytes_per_step > 0) std::snprintf(roof, sizeof roof, "%.1f %%", roofline_percent(r, bandwidth));
    else std::snprintf(roof, sizeof roof, "-");
    std::printf("| %-24.24s | %10s | %10s | %-6s | %7d | %-10s | %18s | %12s | %10s | %9.4f |\n", name.c_str(),
                human_bytes(static_cast<double>(summary.bytes)).c_str(),
                human_count(static_cast<double>(summary.parameters)).c_str(), main_type(summary).c_str(), pool.size(),
                r.test.c_str(), tps, stream, roof, usd_per_million(a.price_per_hour, r.mean_tps));
  }
  return 0;
}

const CommandRegistration kBench{
    "bench", "measure prompt and generation speed, roofline share and $ per million tokens", [](CLI::App& app) {
      auto a = std::make_shared<BenchArgs>();
      app.add_option("-m,--model", a->model, "GGUF model file")->required();
      app.add_option("-p,--n-prompt", a->n_prompt, "prompt tokens for prompt processing; 0 skips it (default 512)");
      app.add_option("-n,--n-gen", a->n_gen, "tokens generated per sequence; 0 skips it (default 128)");
      app.add_option("-b,--batch", a->batches, "sequences decoding together, comma separated (default 1)");
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      app.add_option("-r,--reps", a->reps, "timed repetitions after one warm-up (default 3)");
      app.add_option("--price-per-hour", a->price_per_hour, "machine price in USD per hour (default $0.0504 per logical CPU)");
      app.add_option("--kv-type", a->kv_type, "KV cache entries: f32, f16 (default) or q8_0");
      app.add_option("--bandwidth-gbs", a->bandwidth_gbs, "memory read bandwidth in GB/s (default: measured)");
      app.add_option("--bandwidth-mib", a->bandwidth_mib, "buffer for the bandwidth measurement (default 1024 MiB)");
      app.add_flag("--json", a->json, "print the results as JSON");
      app.add_flag("--repack", a->repack, "repack q4_k/q5_k/q6_k/q8_0/q5_0 matrices row-interleaved at load (timed in the load)");
      app.add_flag("--mmap", a->mmap, "read the weights from the file mapping instead of copying them into memory on huge pages");
      add_expert_parallel_flags(app, a->expert_parallel, true);
      return [a] { return run_bench(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
