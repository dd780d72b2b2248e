// Measured speed of a model on this machine, in the terms that decide cost:
// prompt processing and generation tokens per second (generation per stream
// and in aggregate when several sequences decode together), the share of the
// memory-bandwidth roofline that generation reaches, and dollars per million
// tokens at an hourly machine price.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/forward.h"

namespace frugal::runtime {

struct BenchOptions {
  int n_prompt = 512;             // prompt tokens for the prompt-processing test (0: skip)
  int n_gen = 128;                // tokens generated per sequence (0: skip)
  std::vector<int> batches = {1};  // sequences decoding together
  int reps = 3;                   // timed repetitions after one warm-up
  int n_batch = 512;              // prompt rows per forward call
  model::KvType kv_type = model::KvType::kF16;
  uint64_t seed = 1;              // for the random prompt tokens
  std::function<void(const std::string&)> progress;  // a line per step, may be empty
  // Attention data-parallel (model/expert_parallel.h): this process is rank
  // `rank` of `n_ranks`, and decodes only its share of each batch's
  // sequences (model::sequence_share; the prompt test's one sequence is rank
  // 0's), in step with the others. Every rank must run the same options.
  int rank = 0, n_ranks = 1;
};

struct BenchResult {
  std::string test;   // "pp512", "tg128", "tg128 x4" ...
  int batch = 1;      // sequences (1 for prompt processing)
  int tokens = 0;     // tokens per repetition (all sequences)
  std::vector<double> seconds;  // one per repetition
  double mean_tps = 0, sd_tps = 0;  // aggregate tokens per second over the repetitions
  double per_stream_tps = 0;        // mean_tps / batch
  double bytes_per_step = 0;        // expected weight + KV bytes one decode step reads (tg only)
};

// Seconds from a loaded model to the end of its first forward call: an
// engine (KV cache) for one short sequence, then one token through every
// layer. Added to the load time it is the time to the first token of work.
double time_first_token(const model::Model& model, model::KvType kv_type);

// Fails with a clear error on options run_benchmark cannot run.
void check_bench_options(const BenchOptions& o);

// Runs the tests on `model` with the global thread pool.
std::vector<BenchResult> run_benchmark(const model::Model& model, const BenchOptions& opts);

// mean and sample standard deviation
void mean_sd(const std::vector<double>& x, double& mean, double& sd);

}  // namespace frugal::runtime
