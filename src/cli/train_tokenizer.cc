// frugal train-tokenizer: learns a byte-level BPE vocabulary from text files
// and writes it as a small GGUF file (tokenizer.ggml.* keys, no tensors) and,
// on request, as a Hugging Face tokenizer.json with its tokenizer_config.json.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "base/log.h"
#include "base/output_file.h"
#include "base/read_file.h"
#include "cli/command.h"
#include "gguf/writer.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

struct TrainTokenizerArgs {
  std::vector<std::string> data, specials;
  std::string out, json, chat_template, pre = "default";
  int vocab_size = 0, min_frequency = 2;
};

int run_train_tokenizer(const TrainTokenizerArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.data.empty()) fail("train-tokenizer: give the training text (--data FILE...)");
  // A folder is refused rather than walked: which of its files are text is
  // for `frugal data` to decide (its train.txt is the input meant here).
  for (const auto& path : a.data)
    if (std::filesystem::is_directory(path))
      fail("train-tokenizer: --data '", path, "' is a folder; give text files (frugal data ", path,
           " -o CORPUS writes CORPUS/train.txt)");
  if (a.out.empty()) fail("train-tokenizer: give the output file (-o tokenizer.gguf)");
  if (a.vocab_size <= 0) fail("train-tokenizer: give a positive --vocab-size");
  if (!a.chat_template.empty() && a.chat_template != "chatml")
    fail("train-tokenizer: unknown --chat-template '", a.chat_template, "' (chatml)");
  tokenizer::BpeTrainOptions opts;
  opts.vocab_size = a.vocab_size;
  opts.pre = a.pre;
  opts.specials = a.specials;
  opts.min_frequency = a.min_frequency;
  opts.chatml = a.chat_template == "chatml";
  tokenizer::BpeTrainer trainer(opts);

  uint64_t bytes = 0;
  std::string sample;  // the start of the text, to measure compression on
  for (const auto& path : a.data) {
    std::string text = read_whole_file(path);
    bytes += text.size();
    if (sample.size() < (1u << 20)) sample += text.substr(0, (1u << 20) - sample.size());
    trainer.add_text(text);
  }
  const auto t1 = std::chrono::steady_clock::now();
  tokenizer::BpeVocab v = trainer.train();
  const auto t2 = std::chrono::steady_clock::now();

  gguf::Writer w;
  w.set("general.name", gguf::Value::make_string("frugal byte-level BPE tokenizer"));
  tokenizer::vocab_to_metadata(v, w.metadata());
  w.write(a.out);
  if (!a.json.empty()) {
    std::error_code ec;
    const auto parent = std::filesystem::path(a.json).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    write_output_file(a.json, tokenizer::vocab_to_tokenizer_json(v));
    const auto cfg = std::filesystem::path(a.json).parent_path() / "tokenizer_config.json";
    write_output_file(cfg.string(), tokenizer::vocab_to_tokenizer_config_json(v));
  }

  // How well the vocabulary compresses the text it learnt from.
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(w.metadata());
  const size_t n_tokens = tok.encode(sample, false, true).size();
  const double count_s = std::chrono::duration<double>(t1 - t0).count();
  const double merge_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "read %.2f MB: %llu words, %llu distinct (pre-tokenizer %s) in %.2f s\n", bytes / 1e6,
               (unsigned long long)v.words, (unsigned long long)v.unique_words, v.pre.c_str(), count_s);
  std::fprintf(stderr, "learnt %zu merges in %.2f s; %.2f bytes per token on the first %.2f MB\n", v.merges.size(),
               merge_s, n_tokens ? double(sample.size()) / double(n_tokens) : 0.0, sample.size() / 1e6);
  if (int(v.tokens.size()) < a.vocab_size)
    log_warn("train-tokenizer: no pair occurs ", a.min_frequency, " times any more: the vocabulary has ",
             v.tokens.size(), " tokens, not ", a.vocab_size);
  std::printf("wrote %s: %zu tokens (256 bytes, %zu special, %zu merges)%s\n", a.out.c_str(), v.tokens.size(),
              v.tokens.size() - 256 - v.merges.size(), v.merges.size(),
              v.chat_template.empty() ? "" : ", ChatML chat template");
  if (!a.json.empty()) std::printf("wrote %s and tokenizer_config.json beside it\n", a.json.c_str());
  return 0;
}

const CommandRegistration kTrainTokenizer{
    "train-tokenizer", "learn a byte-level BPE vocabulary from text (GGUF, tokenizer.json)", [](CLI::App& app) {
      auto a = std::make_shared<TrainTokenizerArgs>();
      app.add_option("--data", a->data, "training text files")->expected(1, -1);
      app.add_option("--vocab-size", a->vocab_size, "tokens in all: 256 bytes + specials + merges");
      app.add_option("--special", a->specials, "special (control) token, repeatable; default <|endoftext|>; the first is BOS and EOS");
      app.add_option("--pre", a->pre, "pre-tokenizer: default (GPT-2), qwen2, llama3, gpt-4o, deepseek-v3");
      app.add_option("--min-frequency", a->min_frequency, "merge only pairs seen at least this often (default 2)");
      app.add_option("--chat-template", a->chat_template, "chatml: add <|im_start|>/<|im_end|> and a ChatML template");
      app.add_option("-o,--output", a->out, "output GGUF file (tokenizer keys, no tensors)");
      app.add_option("--json", a->json, "also write a Hugging Face tokenizer.json (and tokenizer_config.json beside it)");
      return [a] { return run_train_tokenizer(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
