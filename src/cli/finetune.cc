// frugal finetune: a LoRA adapter trained over a frozen base model kept
// memory-mapped in its own types, written in llama.cpp's adapter format.
// Progress lines on stderr, metrics as JSON lines (frugal plot reads them),
// atomic checkpoints that --resume continues from exactly.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/file_lock.h"
#include "base/human_format.h"
#include "cli/command.h"
#include "cli/expert_parallel_flags.h"
#include "cli/metrics_log.h"
#include "finetune/checkpoint.h"
#include "finetune/trainer.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

struct FinetuneArgs {
  std::string model, data, val, output, targets = "attn,ffn", lora_experts = "each", checkpoint, resume, log;
  int64_t checkpoint_every = 0, print_every = 10;
  bool eval_only = false;
  bool data_parallel = false;  // under mpirun: this rank computes its share of each batch
  double rank_timeout = 120;
  finetune::LoraShape shape;
  finetune::FinetuneOptions opts;
};

void validate(const FinetuneArgs& a) {
  if (a.output.empty() && !a.eval_only) fail("finetune: -o ADAPTER.gguf is required (or --eval-only)");
  if (a.opts.epochs <= 0) fail("finetune: --epochs must be positive");
  if (a.opts.batch <= 0) fail("finetune: --batch must be positive");
  if (!(a.opts.lr > 0)) fail("finetune: --lr must be positive");
  if (a.checkpoint_every < 0 || a.opts.eval_every < 0 || a.print_every <= 0 || a.opts.stop_at < 0)
    fail("finetune: --checkpoint-every, --eval-every and --stop-after must be >= 0, --print-every > 0");
  if (a.checkpoint_every > 0 && a.checkpoint.empty() && a.resume.empty())
    fail("finetune: --checkpoint-every needs --checkpoint DIR");
  if (a.opts.stop_at > 0 && a.checkpoint.empty() && a.resume.empty())
    fail("finetune: --stop-after needs --checkpoint DIR (to --resume from)");
  if (a.data_parallel && a.eval_only) fail("finetune: --eval-only runs in one process: drop --data-parallel");
  if (!(a.rank_timeout > 0)) fail("finetune: --rank-timeout must be positive");
}

int run_finetune(FinetuneArgs& a) {
  validate(a);
  finetune::LoraShape shape = a.shape;
  finetune::parse_targets(a.targets, shape);
  finetune::parse_expert_sharing(a.lora_experts, shape);
  const auto base = model::Model::load(a.model);
  const auto tok = tokenizer::Tokenizer::from_metadata(base->file().metadata());
  // Data-parallel: every rank trains the same factors on its share of each
  // batch, reading and tokenising only its own examples (example j of a
  // file on rank j mod N); rank 0 alone prints, logs, checkpoints and
  // writes the adapter (every rank reads --resume's folder).
  dist::ProcessGroup* group = a.data_parallel ? &join_ranks(a.rank_timeout) : nullptr;
  const int share = group ? group->rank() : 0, n_shares = group ? group->n_ranks() : 1;
  const auto train = finetune::read_sft_jsonl(a.data, tok, base->file().metadata(), share, n_shares);
  const auto val =
      a.val.empty() ? train : finetune::read_sft_jsonl(a.val, tok, base->file().metadata(), share, n_shares);
  finetune::LoraModel lm(*base, shape);
  if (a.eval_only) {  // the adapter starts at B = 0: the base model's own loss
    const double loss = finetune::mean_loss(lm, val);
    std::printf("%s: loss %.4f (ppl %.2f), the mean over %zu examples of their target tokens' mean\n",
                a.val.empty() ? a.data.c_str() : a.val.c_str(), loss, std::exp(loss), val.size());
    return 0;
  }
  const finetune::CheckpointKey key = finetune::checkpoint_key(base->config(), shape, a.opts, train);
  a.opts.data_parallel = group;
  const bool primary = !group || group->rank() == 0;

  // Checkpoints go to --checkpoint, else back to the folder resumed from;
  // the folder is locked for the whole run, so a second run on it stops
  // here instead of overwriting the first one's progress.
  const std::string ck_dir = a.checkpoint.empty() ? a.resume : a.checkpoint;
  if (!a.resume.empty() && !std::filesystem::exists(finetune::checkpoint_file(a.resume)))
    fail("finetune: --resume ", a.resume, ": no checkpoint there (", finetune::checkpoint_file(a.resume),
         " is missing)");
  std::optional<FileLock> lock;
  if (!ck_dir.empty() && primary) {
    std::error_code ec;
    std::filesystem::create_directories(ck_dir, ec);
    if (ec) fail("finetune: cannot create the checkpoint folder ", ck_dir, ": ", ec.message());
    lock.emplace(finetune::checkpoint_file(ck_dir), "finetune: the checkpoint");
  }
  finetune::FinetuneState state;
  if (!a.resume.empty()) finetune::load_checkpoint(a.resume, key, lm, state);
  const int64_t total = finetune::total_steps(a.opts, train.size());

  const double adapter_bytes = static_cast<double>(lm.params().size()) * sizeof(float);
  if (primary)
    std::fprintf(stderr,
               "finetune: %zu examples (%zu validation)%s, rank %lld, alpha %g: %zu adapter values; memory: base file %s "
               "(mapped) + adapter, gradients and AdamW moments %s + activations%s\n",
               train.size(), val.size(),
               a.opts.batch > 1 ? (", " + std::to_string(a.opts.batch) + " a step").c_str() : "",
               static_cast<long long>(a.shape.rank), static_cast<double>(a.shape.alpha),
               lm.params().size(), human_bytes(static_cast<double>(base->file().file_size())).c_str(),
               human_bytes(4 * adapter_bytes).c_str(),
               state.step > 0 ? (", resumed at step " + std::to_string(state.step)).c_str() : "");
  if (group) {
    // The examples each rank read and tokenised, gathered by a sum.
    std::vector<double> read(static_cast<size_t>(2 * group->n_ranks()), 0.0);
    for (const auto* set : {&train, &val})
      for (const finetune::SftExample& ex : *set)
        read[static_cast<size_t>(2 * group->rank() + (set == &train ? 0 : 1))] += finetune::is_read(ex) ? 1 : 0;
    group->sum(read.data(), read.size());
    std::string per_rank;
    for (int r = 0; r < group->n_ranks(); ++r)
      per_rank += " " + std::to_string(static_cast<int64_t>(read[static_cast<size_t>(2 * r)])) + "/" +
                  std::to_string(static_cast<int64_t>(read[static_cast<size_t>(2 * r + 1)]));
    if (primary)
      std::fprintf(stderr,
                   "finetune: data-parallel over %d ranks, example j of a file on rank j mod %d; read and tokenised "
                   "per rank (training/validation):%s\n",
                   group->n_ranks(), group->n_ranks(), per_rank.c_str());
  }

  std::ofstream log;
  if (!a.log.empty() && primary) {
    if (state.step > 0) truncate_log_to_step(a.log, state.step);
    log.open(a.log, state.step > 0 ? std::ios::app : std::ios::trunc);
    if (!log) fail("finetune: cannot write the metrics log '", a.log, "'");
  }

  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  auto t_step = t_start;
  const int64_t first_step = state.step;
  finetune::finetune(lm, train, val, a.opts, state, [&](const finetune::FinetuneStep& s) {
    if (!primary) return;
    const auto now = clock::now();
    const double secs = std::chrono::duration<double>(now - t_step).count();
    t_step = now;
    const bool evaluated = !std::isnan(s.val_loss);
    nlohmann::json rec = {{"step", s.step}, {"lr", nullptr}, {"train_loss", nullptr}, {"tokens_per_second", nullptr},
                          {"val_loss", nullptr}, {"val_ppl", nullptr}};
    if (s.step > 0) {
      rec["lr"] = a.opts.lr;
      rec["train_loss"] = s.train_loss;
      rec["tokens_per_second"] = secs > 0 ? static_cast<double>(s.tokens) / secs : 0.0;
    }
    if (evaluated) {
      rec["val_loss"] = s.val_loss;
      rec["val_ppl"] = std::exp(s.val_loss);
    }
    if (log.is_open()) {
      log << rec.dump() << "\n";
      log.flush();
    }
    if (s.step == 0 || evaluated || s.step % a.print_every == 0 || s.step == s.total || s.step == a.opts.stop_at) {
      std::fprintf(stderr, "step %lld/%lld", static_cast<long long>(s.step), static_cast<long long>(s.total));
      if (s.step > 0) std::fprintf(stderr, " | loss %.4f", s.train_loss);
      if (evaluated) std::fprintf(stderr, " | val %.4f", s.val_loss);
      if (s.step > first_step) {
        const double elapsed = std::chrono::duration<double>(now - t_start).count();
        const double per_step = elapsed / static_cast<double>(s.step - first_step);
        std::fprintf(stderr, " | %.0f tok/s | ETA %s", rec["tokens_per_second"].get<double>(),
                     eta_text(per_step * static_cast<double>(s.total - s.step)).c_str());
      }
      std::fprintf(stderr, "\n");
    }
    if (!ck_dir.empty() && s.step > 0 &&
        ((a.checkpoint_every > 0 && s.step % a.checkpoint_every == 0) || s.step == s.total ||
         s.step == a.opts.stop_at))
      finetune::save_checkpoint(ck_dir, key, lm, base->config().arch, state);
  });
  if (!primary) return 0;
  if (state.step < total) {
    std::printf("stopped after step %lld of %lld; go on with --resume %s\n", static_cast<long long>(state.step),
                static_cast<long long>(total), ck_dir.c_str());
    return 0;
  }
  model::write_lora_adapter(a.output, base->config().arch, a.shape.alpha, a.shape.rank, lm.factors());
  std::printf("%s: %zu matrices, rank %lld\n", a.output.c_str(), lm.factors().size(),
              static_cast<long long>(a.shape.rank));
  return 0;
}

const CommandRegistration kFinetune{
    "finetune", "train a LoRA adapter over a frozen base model", [](CLI::App& app) {
      auto a = std::make_shared<FinetuneArgs>();
      app.add_option("-m,--model", a->model, "the base model (GGUF, any type; stays frozen)")->required();
      app.add_option("--data", a->data, "training examples: JSONL of {\"messages\": [...]} or {\"text\": ...}")
          ->required();
      app.add_option("-o,--output", a->output, "the adapter to write (GGUF, llama.cpp's LoRA format)");
      app.add_flag("--eval-only", a->eval_only,
                   "print the base model's loss on --val (else --data) and stop: no training, no -o");
      app.add_option("--val", a->val, "validation examples (default: the training set)");
      app.add_option("--rank", a->shape.rank, "adapter rank (default 16)");
      app.add_option("--alpha", a->shape.alpha, "adapter alpha: the product is scaled by alpha / rank (default 32)");
      app.add_option("--targets", a->targets,
                     "matrices to adapt, comma-separated: attn (q, k, v, output), ffn (dense FFN), shared (shared "
                     "experts), experts (routed experts, a pair of factors each), router; default attn,ffn");
      app.add_option("--lora-experts", a->lora_experts,
                     "routed experts' factors: each (a pair per expert, default) or shared (one pair for all of a "
                     "layer's experts, written repeated per expert so every reader applies it to each)");
      app.add_option("--epochs", a->opts.epochs, "passes over the data (default 1)");
      app.add_option("--batch", a->opts.batch,
                     "examples a step; the loss is the mean over all their target tokens (default 1)");
      app.add_option("--lr", a->opts.lr, "AdamW learning rate (default 1e-3)");
      app.add_option("--weight-decay", a->opts.weight_decay, "AdamW weight decay (default 0)");
      app.add_option("--eval-every", a->opts.eval_every, "steps between validation losses (default 10)");
      app.add_option("--seed", a->shape.seed, "seed of the A factors' initial values and the shuffle (default 0)");
      app.add_option("--print-every", a->print_every, "progress line every N steps (default 10)");
      app.add_option("--log", a->log, "metrics as JSON lines, one a step (frugal plot reads them)");
      app.add_option("--checkpoint", a->checkpoint,
                     "checkpoint folder (finetune.ckpt and adapter.gguf), written at the end and every N steps");
      app.add_option("--checkpoint-every", a->checkpoint_every, "checkpoint every N steps (default 0: at the end)");
      app.add_option("--resume", a->resume,
                     "continue the run checkpointed in this folder (later checkpoints go there too, unless "
                     "--checkpoint names another)");
      app.add_flag("--data-parallel", a->data_parallel,
                   "under mpirun: each rank computes its share of every batch's examples, gradients summed over the "
                   "ranks (docs/DISTRIBUTED.md)");
      app.add_option("--rank-timeout", a->rank_timeout,
                     "with --data-parallel: seconds a rank waits for the others at one sum before ending the job "
                     "(default 120)");
      app.add_option("--stop-after", a->opts.stop_at,
                     "stop after this step, checkpointed, to go on later with --resume (default 0: run to the end)");
      return [a] {
        FinetuneArgs args = *a;
        args.opts.seed = a->shape.seed;
        return run_finetune(args);
      };
    }};

}  // namespace
}  // namespace frugal::cli
