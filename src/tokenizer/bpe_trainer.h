// Trains a byte-level BPE vocabulary (the "gpt2" model of GGUF and Hugging
// Face's ByteLevel BPE) on text: the text is cut at special tokens, split into
// words by a pre-tokenizer regex, and the most frequent adjacent pair of
// symbols is merged again and again until the vocabulary has the size asked.
// Pair counts are kept up to date incrementally: a merge touches only the
// words that hold the pair.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/value.h"

namespace frugal::tokenizer {

struct BpeTrainOptions {
  int vocab_size = 4096;                 // bytes + specials + merges
  std::string pre = "default";           // pre-tokenizer name (pretokenize.h)
  std::vector<std::string> specials;     // control tokens, ids 256, 257, ... in this order
  int min_frequency = 2;                 // pairs seen fewer times are never merged
  bool chatml = false;                   // add <|im_start|>/<|im_end|> and a ChatML chat template
};

struct BpeVocab {
  std::string pre;
  std::vector<std::string> tokens;       // byte-level spelling; ids 0..255 are the bytes in byte order
  std::vector<int32_t> token_types;      // NORMAL or CONTROL
  std::vector<std::string> merges;       // "left right", in merge order (rank)
  int32_t bos = -1, eos = -1;
  std::string chat_template;             // empty unless options.chatml
  uint64_t words = 0, unique_words = 0;  // statistics of the training text
};

// Counts the pre-tokenized words of texts, then learns merges. Ties between
// pairs of equal count go to the pair whose (left id, right id) is smallest, so
// training is deterministic. Stops early (fewer tokens than asked) only when
// no pair reaches min_frequency; the caller can compare tokens.size().
// Bad options (vocab_size below 256 + specials, unknown pre) -> frugal::Error.
class BpeTrainer {
 public:
  explicit BpeTrainer(BpeTrainOptions opts);
  void add_text(std::string_view text);  // may be called many times
  BpeVocab train() const;

 private:
  BpeTrainOptions opts_;
  std::vector<std::string> all_specials_;  // opts.specials plus the ChatML ones
  struct WordCounts;
  std::shared_ptr<WordCounts> counts_;
};

// The ChatML template written by --chat-template chatml.
const std::string& chatml_template();

// GGUF tokenizer.ggml.* keys (model gpt2, pre, tokens, token_type, merges,
// bos/eos ids, add_bos_token false) and tokenizer.chat_template when set.
void vocab_to_metadata(const BpeVocab& v, gguf::Metadata& md);

// A Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer/decoder,
// specials as added tokens) and the tokenizer_config.json that goes beside it
// (bos/eos tokens, chat template).
std::string vocab_to_tokenizer_json(const BpeVocab& v);
std::string vocab_to_tokenizer_config_json(const BpeVocab& v);

}  // namespace frugal::tokenizer
