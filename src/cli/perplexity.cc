// frugal perplexity: a model's perplexity on a text by llama-perplexity's
// method (runtime/perplexity.h), and with --kl-divergence-base /
// --kl-divergence the KL divergence of a quantised model from the
// full-precision one (runtime/kl_divergence.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/read_file.h"
#include "cli/command.h"
#include "cli/default_model.h"
#include "model/lora.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/kl_divergence.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

constexpr int kRowsPerBatch = 512;  // chunks share one forward pass up to this many rows

struct PerplexityArgs {
  std::string model, text, base, lora;
  float lora_scale = 1.0f;
  int n_ctx = 0, chunks = 0, threads = 0;
  bool kl = false, json = false;
};

const double kPercentiles[] = {0.0, 0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 1.0};

std::string percentile_name(double f) {
  if (f == 0.0) return "min";
  if (f == 1.0) return "max";
  char b[16];
  std::snprintf(b, sizeof b, "p%g", 100 * f);
  return b;
}

// Runs the chunks `plan` asks for, calling score(chunk, row, logits, target)
// for every scored position, with a progress bar showing the running figure.
template <class Score, class Running>
void run_chunks(runtime::Engine& engine, const runtime::ChunkPlan& plan, std::span<const int32_t> tokens, int32_t bos,
                Score&& score, Running&& running) {
  const int n_vocab = engine.n_vocab();
  const size_t per = static_cast<size_t>(plan.scored_per_chunk());
  Progress bar("perplexity", static_cast<uint64_t>(plan.n_chunk), "");
  std::vector<float> logits;
  for (int c0 = 0; c0 < plan.n_chunk; c0 += engine.n_seq_max()) {
    const int n = std::min(engine.n_seq_max(), plan.n_chunk - c0);
    runtime::evaluate_chunks(engine, plan, tokens, bos, c0, n, logits);
    for (int s = 0; s < n; ++s) {
      const size_t start = static_cast<size_t>(c0 + s) * static_cast<size_t>(plan.n_ctx);
      for (size_t r = 0; r < per; ++r) {
        const std::span<const float> row(logits.data() + (static_cast<size_t>(s) * per + r) * n_vocab,
                                         static_cast<size_t>(n_vocab));
        score(c0 + s, r, row, tokens[start + static_cast<size_t>(plan.first) + r + 1]);
      }
    }
    char label[64];
    std::snprintf(label, sizeof label, "perplexity (PPL %.4f)", running());
    bar.set_label(label);
    bar.update(static_cast<uint64_t>(c0 + n));
  }
  bar.finish();
}

nlohmann::ordered_json percentiles_json(std::vector<double>& v, double scale) {
  std::sort(v.begin(), v.end());
  nlohmann::ordered_json j;
  for (double f : kPercentiles) j[percentile_name(f)] = scale * runtime::percentile(v, f);
  return j;
}

int run_perplexity(const PerplexityArgs& a) {
  if (a.threads < 0) fail("perplexity: --threads must not be negative");
  if (a.n_ctx < 0) fail("perplexity: --ctx-size must not be negative");
  if (a.chunks < 0) fail("perplexity: --chunks must not be negative");
  if (a.kl && a.base.empty()) fail("perplexity: --kl-divergence needs --kl-divergence-base FILE (the base model's run)");
  if (!a.kl && a.text.empty()) fail("perplexity: -f TEXT is required (except with --kl-divergence)");
  if (a.threads > 0) ThreadPool::set_default_threads(a.threads);
  if (log_level() < LogLevel::kInfo) Progress::set_enabled(false);  // -q: only errors on stderr

  // Read what can be wrong with the inputs before loading a large model.
  std::optional<runtime::LogProbReader> base;
  std::string text;
  if (a.kl) base.emplace(a.base);
  else text = read_whole_file(a.text);

  const std::string path = resolve_model_path(a.model);
  std::unique_ptr<model::Model> m = model::Model::load(path);
  // An adapter is scored as the model it makes, without writing a merged copy.
  if (!a.lora.empty()) m->set_lora(model::LoraAdapter::load(a.lora, *m, a.lora_scale));
  const int n_vocab = static_cast<int>(m->config().n_vocab);

  std::vector<int32_t> tokens;
  runtime::ChunkPlan plan;
  int32_t bos = -1;
  if (a.kl) {
    if (base->header().n_vocab != static_cast<uint32_t>(n_vocab))
      fail("perplexity: vocabulary mismatch: ", a.base, " was made with ", base->header().n_vocab,
           " tokens, the model has ", n_vocab);
    plan = base->plan();
    if (a.chunks > 0) plan.n_chunk = std::min(plan.n_chunk, a.chunks);
    if (a.n_ctx > 0 && a.n_ctx != plan.n_ctx)
      fail("perplexity: --ctx-size ", a.n_ctx, " differs from the base file's ", plan.n_ctx);
    tokens.assign(base->tokens().begin(), base->tokens().end());
    bos = base->header().bos;
  } else {
    const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(m->file().metadata());
    const bool add_bos = tok.add_bos_default() && tok.bos() >= 0;
    tokens = tok.encode(text, add_bos, /*parse_special=*/false);
    bos = add_bos ? tok.bos() : -1;
    const int n_ctx = a.n_ctx > 0 ? a.n_ctx : static_cast<int>(std::min<int64_t>(512, m->config().n_ctx_train));
    plan = runtime::plan_chunks(tokens.size(), n_ctx, a.chunks);
    tokens.resize(static_cast<size_t>(plan.n_chunk) * static_cast<size_t>(plan.n_ctx));
  }
  if (plan.n_ctx > m->config().n_ctx_train)
    log_warn("perplexity: the model was trained on a context of ", m->config().n_ctx_train, ", not ", plan.n_ctx);

  runtime::EngineOptions opts;
  opts.n_ctx = plan.n_ctx;
  opts.n_seq_max = std::clamp(kRowsPerBatch / plan.n_ctx, 1, plan.n_chunk);
  runtime::Engine engine(*m, opts);
  log_info("perplexity: ", tokens.size(), " tokens, ", plan.n_chunk, " chunks of ", plan.n_ctx, ", scoring positions ",
           plan.first, "..", plan.n_ctx - 2, " of each, ", opts.n_seq_max, " chunks per batch");

  nlohmann::ordered_json j;
  j["model"] = path;
  if (!a.lora.empty()) j["lora"] = a.lora;
  j["n_ctx"] = plan.n_ctx;
  j["chunks"] = plan.n_chunk;
  j["tokens_scored"] = static_cast<size_t>(plan.n_chunk) * static_cast<size_t>(plan.scored_per_chunk());
  const size_t per = static_cast<size_t>(plan.scored_per_chunk());

  if (!a.kl) {
    runtime::NllStats nll;
    std::optional<runtime::LogProbWriter> writer;
    if (!a.base.empty()) {
      runtime::LogProbHeader h{.n_vocab = static_cast<uint32_t>(n_vocab),
                               .n_ctx = static_cast<uint32_t>(plan.n_ctx),
                               .n_chunk = static_cast<uint32_t>(plan.n_chunk),
                               .bos = bos};
      writer.emplace(a.base, h, tokens);
    }
    run_chunks(
        engine, plan, tokens, bos,
        [&](int, size_t, std::span<const float> row, int32_t target) {
          const runtime::RowScore r = runtime::score_row(row);
          nll.add(r.log_sum_exp - row[static_cast<size_t>(target)]);
          if (writer) writer->add_row(row, target);
        },
        [&] { return nll.ppl(); });
    if (writer) {
      writer->commit();
      log_info("perplexity: base log-probabilities saved to ", a.base);
    }
    j["ppl"] = nll.ppl();
    j["ppl_error"] = nll.ppl_error();
    if (a.json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("PPL = %.4f +/- %.5f (%d chunks of %d tokens, %zu tokens scored)\n", nll.ppl(), nll.ppl_error(),
                  plan.n_chunk, plan.n_ctx, nll.count);
    }
    return 0;
  }

  runtime::KlStats kl;
  run_chunks(
      engine, plan, tokens, bos,
      [&](int chunk, size_t r, std::span<const float> row, int32_t target) {
        kl.add(base->row(static_cast<size_t>(chunk) * per + r), row, target);
      },
      [&] { return kl.nll.ppl(); });

  const size_t n = kl.nll.count;
  const runtime::MeanError lq = runtime::mean_and_error(kl.nll.sum, kl.nll.sum2, n);
  const runtime::MeanError lb = runtime::mean_and_error(kl.nll_base.sum, kl.nll_base.sum2, n);
  // Standard error of the mean difference of the two log-perplexities, from the covariance of the pairs.
  const double cov = n > 1 ? (kl.sum_nll_product / n - lq.mean * lb.mean) / static_cast<double>(n - 1) : 0;
  const double ratio_var = lq.error * lq.error + lb.error * lb.error - 2 * cov;
  const double ratio_err = ratio_var > 0 ? std::sqrt(ratio_var) : 0;
  const runtime::MeanError kld = runtime::mean_and_error(kl.sum_kld, kl.sum_kld2, n);
  const runtime::MeanError dp = runtime::mean_and_error(kl.sum_dp, kl.sum_dp2, n);
  const double dp_rms = std::sqrt(kl.sum_dp2 / static_cast<double>(n));
  const double top = static_cast<double>(kl.same_top) / static_cast<double>(n);
  const double top_err = n > 1 ? std::sqrt(top * (1 - top) / static_cast<double>(n - 1)) : 0;

  j["ppl"] = kl.nll.ppl();
  j["ppl_error"] = kl.nll.ppl_error();
  j["ppl_base"] = kl.nll_base.ppl();
  j["ppl_base_error"] = kl.nll_base.ppl_error();
  j["ln_ppl_ratio"] = lq.mean - lb.mean;
  j["ln_ppl_ratio_error"] = ratio_err;
  j["kld_mean"] = kld.mean;
  j["kld_error"] = kld.error;
  j["kld_percentiles"] = percentiles_json(kl.kld, 1.0);
  j["top1_agreement"] = top;
  j["top1_agreement_error"] = top_err;
  j["delta_p_mean"] = dp.mean;
  j["delta_p_rms"] = dp_rms;
  j["delta_p_percentiles"] = percentiles_json(kl.dp, 1.0);
  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("tokens scored         : %zu (%d chunks of %d)\n", n, plan.n_chunk, plan.n_ctx);
  std::printf("PPL(Q)                : %.4f +/- %.5f\n", kl.nll.ppl(), kl.nll.ppl_error());
  std::printf("PPL(base)             : %.4f +/- %.5f\n", kl.nll_base.ppl(), kl.nll_base.ppl_error());
  std::printf("ln(PPL(Q)/PPL(base))  : %.6f +/- %.6f\n", lq.mean - lb.mean, ratio_err);
  std::printf("mean KLD              : %.6f +/- %.6f\n", kld.mean, kld.error);
  std::printf("top-1 agreement       : %.3f%% +/- %.3f%%\n", 100 * top, 100 * top_err);
  std::printf("delta-p mean, RMS     : %.3f%%, %.3f%%\n", 100 * dp.mean, 100 * dp_rms);
  const auto& kp = j["kld_percentiles"];
  const auto& pp = j["delta_p_percentiles"];
  std::printf("%-9s %12s %10s\n", "", "KLD", "delta-p");
  for (double f : kPercentiles) {
    const std::string name = percentile_name(f);
    std::printf("%-9s %12.6f %9.3f%%\n", name.c_str(), kp[name].get<double>(), 100 * pp[name].get<double>());
  }
  return 0;
}

const CommandRegistration kPerplexity{
    "perplexity", "perplexity of a model on a text (llama-perplexity's method), and KL divergence from a base model",
    [](CLI::App& app) {
      auto a = std::make_shared<PerplexityArgs>();
      app.add_option("-m,--model", a->model, "GGUF model file (default: the bundled model)");
      app.add_option("-f,--file", a->text, "text to score (UTF-8)");
      app.add_option("-c,--ctx-size", a->n_ctx, "tokens per chunk (default: the model's context, at most 512)");
      app.add_option("--chunks", a->chunks, "score at most this many chunks (default: all)");
      app.add_option("--kl-divergence-base", a->base,
                     "without --kl-divergence: save this model's log-probabilities here; with it: read them");
      app.add_flag("--kl-divergence", a->kl, "compare this model with the base file (tokens come from the file)");
      app.add_flag("--json", a->json, "print the results as JSON");
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      app.add_option("--lora", a->lora, "score the model with this LoRA adapter applied (llama.cpp's GGUF adapter format)");
      app.add_option("--lora-scale", a->lora_scale, "scale of the adapter's product (default 1: alpha / rank as trained)");
      return [a] { return run_perplexity(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
