#include "runtime/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/error.h"
#include "kernels/ops.h"
#include "gguf/summary.h"
#include "model/expert_parallel.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"

namespace frugal::runtime {

void mean_sd(const std::vector<double>& x, double& mean, double& sd) {
  mean = sd = 0;
  if (x.empty()) return;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  if (x.size() < 2) return;
  for (double v : x) sd += (v - mean) * (v - mean);
  sd = std::sqrt(sd / static_cast<double>(x.size() - 1));
}

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Random token ids drawn from the whole vocabulary: speed does not depend on
// which tokens they are, and every architecture and vocabulary has them.
std::vector<int32_t> random_tokens(Rng& rng, int n, int32_t n_vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(n_vocab));
  return ids;
}

int32_t argmax(const float* row, int32_t n) { return static_cast<int32_t>(kernels::argmax(row, n)); }

// One prompt of n tokens in batches of n_batch rows, logits for the last
// only. A rank that does not own the prompt (attention data-parallel) runs
// the same passes without rows.
double time_prompt(Engine& e, const std::vector<int32_t>& ids, int n_batch, bool owned) {
  std::vector<float> logits;
  std::vector<BatchRow> rows;
  e.clear_sequence(0);
  const double t0 = now_seconds();
  for (size_t b = 0; b < ids.size(); b += static_cast<size_t>(n_batch)) {
    rows.clear();
    for (size_t i = b; i < std::min(ids.size(), b + static_cast<size_t>(n_batch)) && owned; ++i)
      rows.push_back({0, static_cast<int32_t>(i), ids[i], i + 1 == ids.size()});
    e.forward(rows, logits);
  }
  return now_seconds() - t0;
}

// `batch` sequences each decode n_gen tokens together, one row per sequence
// per step, after a short untimed prefill (kPrefill tokens each). This
// engine holds sequences [own.begin, own.end) of them (all, in one
// process), as its sequences 0, 1, ...; the prompts are drawn for all, so
// that every rank draws the same.
constexpr int kPrefill = 8;
double time_generation(Engine& e, Rng& rng, int batch, model::ExpertRange own, int n_gen) {
  const int32_t nv = e.n_vocab();
  const int n_own = static_cast<int>(own.end - own.begin);
  std::vector<float> logits;
  std::vector<BatchRow> rows;
  for (int s = 0; s < batch; ++s) {
    const auto ids = random_tokens(rng, kPrefill, nv);
    if (!own.contains(s)) continue;
    const int32_t seq = s - static_cast<int32_t>(own.begin);
    e.clear_sequence(seq);
    for (int i = 0; i < kPrefill; ++i) rows.push_back({seq, i, ids[static_cast<size_t>(i)], i + 1 == kPrefill});
  }
  e.forward(rows, logits);
  std::vector<int32_t> next(static_cast<size_t>(batch), 0);
  for (int s = 0; s < batch; ++s) next[static_cast<size_t>(s)] = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(nv));
  const double t0 = now_seconds();
  for (int step = 0; step < n_gen; ++step) {
    rows.clear();
    for (int s = 0; s < n_own; ++s) rows.push_back({s, kPrefill + step, next[static_cast<size_t>(own.begin + s)], true});
    e.forward(rows, logits);
    for (int s = 0; s < n_own; ++s)
      next[static_cast<size_t>(own.begin + s)] = argmax(logits.data() + static_cast<size_t>(s) * static_cast<size_t>(nv), nv);
  }
  return now_seconds() - t0;
}

void finish(BenchResult& r) {
  std::vector<double> tps;
  for (double s : r.seconds) tps.push_back(s > 0 ? r.tokens / s : 0);
  mean_sd(tps, r.mean_tps, r.sd_tps);
  r.per_stream_tps = r.mean_tps / r.batch;
}

}  // namespace

double time_first_token(const model::Model& model, model::KvType kv_type) {
  const double t0 = now_seconds();
  EngineOptions eo;
  eo.n_ctx = 16;
  eo.kv_type = kv_type;
  Engine e(model, eo);
  std::vector<float> logits;
  // Under attention data-parallel the token is the row of the rank that
  // owns sequence 0; the others run its MoE layers with it.
  const model::ExpertParallel* ep = model::expert_parallel_of(model);
  const bool owned = !ep || !model::attention_data_parallel(model) ||
                     model::sequence_share(1, ep->rank(), ep->n_ranks(), model::attention_ranks(model)).contains(0);
  std::vector<BatchRow> rows;
  if (owned) rows.push_back({0, 0, 0, true});
  e.forward(rows, logits);
  return now_seconds() - t0;
}

void check_bench_options(const BenchOptions& o) {
  if (o.n_prompt < 0 || o.n_gen < 0) fail("bench: token counts must not be negative");
  if (o.reps <= 0) fail("bench: repetitions must be positive (got ", o.reps, ")");
  if (o.n_batch <= 0) fail("bench: batch rows must be positive");
  if (o.batches.empty()) fail("bench: no batch size given");
  for (int b : o.batches)
    if (b <= 0 || b > 1024) fail("bench: batch sizes must be in [1, 1024] (got ", b, ")");
  if (o.n_ranks < 1 || o.rank < 0 || o.rank >= o.n_ranks) fail("bench: rank ", o.rank, " of ", o.n_ranks);
}

std::vector<BenchResult> run_benchmark(const model::Model& model, const BenchOptions& o) {
  check_bench_options(o);
  auto say = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  Rng rng(o.seed);
  std::vector<BenchResult> out;
  const model::AttentionRanks ranks = model::attention_ranks(model);
  const int32_t n_vocab = static_cast<int32_t>(model.config().n_vocab);

  if (o.n_prompt > 0) {
    EngineOptions eo;
    eo.n_ctx = o.n_prompt;
    eo.kv_type = o.kv_type;
    Engine e(model, eo);
    BenchResult r;
    r.test = "pp" + std::to_string(o.n_prompt);
    r.tokens = o.n_prompt;
    const auto ids = random_tokens(rng, o.n_prompt, n_vocab);
    for (int rep = 0; rep <= o.reps; ++rep) {
      say(r.test + (rep == 0 ? ": warm-up" : ": run " + std::to_string(rep) + "/" + std::to_string(o.reps)));
      const double s = time_prompt(e, ids, o.n_batch, model::sequence_share(1, o.rank, o.n_ranks, ranks).contains(0));
      if (rep > 0) r.seconds.push_back(s);  // run 0 warms caches and the page cache
    }
    finish(r);
    out.push_back(r);
  }

  if (o.n_gen > 0) {
    const gguf::FileSummary summary = gguf::summarize(model.file());
    for (int b : o.batches) {
      EngineOptions eo;
      eo.n_ctx = kPrefill + o.n_gen;
      const model::ExpertRange own = model::sequence_share(b, o.rank, o.n_ranks, ranks);
      eo.n_seq_max = static_cast<int>(std::max<int64_t>(1, own.end - own.begin));
      eo.kv_type = o.kv_type;
      Engine e(model, eo);
      BenchResult r;
      r.test = "tg" + std::to_string(o.n_gen) + (b > 1 ? " x" + std::to_string(b) : "");
      r.batch = b;
      r.tokens = b * o.n_gen;
      // Weights by the uniform-routing estimate, plus each sequence's cache
      // at the average position of the run.
      r.bytes_per_step = gguf::weight_bytes_per_step(summary, b) +
                         static_cast<double>(b) * (kPrefill + o.n_gen / 2.0) * static_cast<double>(e.kv_bytes_per_position());
      for (int rep = 0; rep <= o.reps; ++rep) {
        say(r.test + (rep == 0 ? ": warm-up" : ": run " + std::to_string(rep) + "/" + std::to_string(o.reps)));
        const double s = time_generation(e, rng, b, own, o.n_gen);
        if (rep > 0) r.seconds.push_back(s);
      }
      finish(r);
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace frugal::runtime
