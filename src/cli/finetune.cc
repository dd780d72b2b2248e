// frugal finetune: a LoRA adapter trained over a frozen base model kept
// memory-mapped in its own types, written in llama.cpp's adapter format.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/human_format.h"
#include "cli/command.h"
#include "finetune/trainer.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

struct FinetuneArgs {
  std::string model, data, val, output, targets = "attn,ffn";
  finetune::LoraShape shape;
  finetune::FinetuneOptions opts;
};

int run_finetune(const FinetuneArgs& a) {
  if (a.opts.epochs <= 0) fail("finetune: --epochs must be positive");
  if (!(a.opts.lr > 0)) fail("finetune: --lr must be positive");
  finetune::LoraShape shape = a.shape;
  finetune::parse_targets(a.targets, shape);
  const auto base = model::Model::load(a.model);
  const auto tok = tokenizer::Tokenizer::from_metadata(base->file().metadata());
  const auto train = finetune::read_sft_jsonl(a.data, tok, base->file().metadata());
  const auto val = a.val.empty() ? train : finetune::read_sft_jsonl(a.val, tok, base->file().metadata());
  finetune::LoraModel lm(*base, shape);
  const double adapter_bytes = static_cast<double>(lm.params().size()) * sizeof(float);
  std::fprintf(stderr,
               "finetune: %zu examples (%zu validation), rank %lld, alpha %g: %zu adapter values; memory: base file %s "
               "(mapped) + adapter, gradients and AdamW moments %s + activations\n",
               train.size(), val.size(), static_cast<long long>(a.shape.rank), static_cast<double>(a.shape.alpha),
               lm.params().size(), human_bytes(static_cast<double>(base->file().file_size())).c_str(),
               human_bytes(4 * adapter_bytes).c_str());
  finetune::finetune(lm, train, val, a.opts, [](const finetune::FinetuneStep& s) {
    std::fprintf(stderr, "step %lld/%lld", static_cast<long long>(s.step), static_cast<long long>(s.total));
    if (!std::isnan(s.train_loss)) std::fprintf(stderr, " | loss %.4f", s.train_loss);
    if (!std::isnan(s.val_loss)) std::fprintf(stderr, " | val %.4f", s.val_loss);
    std::fprintf(stderr, "\n");
  });
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
      app.add_option("-o,--output", a->output, "the adapter to write (GGUF, llama.cpp's LoRA format)")->required();
      app.add_option("--val", a->val, "validation examples (default: the training set)");
      app.add_option("--rank", a->shape.rank, "adapter rank (default 16)");
      app.add_option("--alpha", a->shape.alpha, "adapter alpha: the product is scaled by alpha / rank (default 32)");
      app.add_option("--targets", a->targets,
                     "matrices to adapt: attn (q, k, v, output), ffn (dense FFN); default both");
      app.add_option("--epochs", a->opts.epochs, "passes over the data (default 1)");
      app.add_option("--lr", a->opts.lr, "AdamW learning rate (default 1e-3)");
      app.add_option("--weight-decay", a->opts.weight_decay, "AdamW weight decay (default 0)");
      app.add_option("--eval-every", a->opts.eval_every, "steps between validation losses (default 10)");
      app.add_option("--seed", a->shape.seed, "seed of the A factors' initial values and the shuffle (default 0)");
      return [a] {
        FinetuneArgs args = *a;
        args.opts.seed = a->shape.seed;
        return run_finetune(args);
      };
    }};

}  // namespace
}  // namespace frugal::cli
