#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <compare>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "gguf/pre_tokenizer_name.h"

namespace frugal::tokenizer {

struct BpeTrainer::WordCounts {
  std::unique_ptr<PreTokenizer> pre;
  std::unordered_map<std::string, int64_t> count;  // word (raw bytes) -> occurrences
  uint64_t words = 0;
};

namespace {

// Pre-tokenizers a trained vocabulary may use: those hf_import reads back.
bool trainable_pre(const std::string& name) {
  return name == "default" || name == "qwen2" || name == "llama3" || name == "gpt-4o" || name == "deepseek-v3";
}

// Merges are applied to whole words only in these (as tokenizer.cc does).
bool ignores_merges(const std::string& name) { return name == "llama3" || name == "gpt-4o"; }

inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
inline int32_t pair_left(uint64_t k) { return int32_t(k >> 32); }
inline int32_t pair_right(uint64_t k) { return int32_t(k & 0xFFFFFFFFu); }

constexpr uint32_t kNoSymbol = 0xFFFFFFFFu;

// One symbol of a word being trained on: its token id (-1 once merged into
// its left neighbour) and its neighbours' positions.
struct Symbol {
  int32_t id;
  uint32_t prev, next;
};

// Where a pair occurs: the word and the position of its left symbol.
struct Occurrence {
  uint32_t word, pos;
  auto operator<=>(const Occurrence&) const = default;
};

struct Candidate {
  int64_t count;
  uint64_t key;
  // The queue's top: the highest count; among equal counts the smallest pair.
  bool operator<(const Candidate& o) const { return count != o.count ? count < o.count : key > o.key; }
};

}  // namespace

const std::string& chatml_template() {
  static const std::string t =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  return t;
}

BpeTrainer::BpeTrainer(BpeTrainOptions opts) : opts_(std::move(opts)), counts_(std::make_shared<WordCounts>()) {
  if (!trainable_pre(opts_.pre))
    fail("train-tokenizer: pre-tokenizer '", opts_.pre, "' cannot be trained (default, qwen2, llama3, gpt-4o, deepseek-v3)");
  all_specials_ = opts_.specials;
  if (all_specials_.empty()) all_specials_.push_back("<|endoftext|>");
  if (opts_.chatml) {
    for (const char* s : {"<|im_start|>", "<|im_end|>"})
      if (std::find(all_specials_.begin(), all_specials_.end(), s) == all_specials_.end()) all_specials_.push_back(s);
  }
  std::unordered_set<std::string> seen;
  for (const auto& s : all_specials_) {
    if (s.empty()) fail("train-tokenizer: a special token is empty");
    if (!seen.insert(s).second) fail("train-tokenizer: special token '", s, "' is given twice");
  }
  const int min_size = 256 + int(all_specials_.size());
  if (opts_.vocab_size < min_size)
    fail("train-tokenizer: --vocab-size ", opts_.vocab_size, " is below the ", min_size,
         " tokens that the bytes and special tokens need");
  if (opts_.min_frequency < 1) fail("train-tokenizer: --min-frequency must be at least 1");
  counts_->pre = make_pretokenizer(opts_.pre);
}

void BpeTrainer::add_text(std::string_view text) {
  // Cut at special tokens (they are never part of a word), earliest first,
  // the longest one where two start at the same place. Each special's next
  // occurrence is remembered, so the text is scanned once per special.
  std::vector<size_t> next(all_specials_.size());
  for (size_t i = 0; i < all_specials_.size(); ++i) next[i] = text.find(all_specials_[i]);
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    for (size_t i = 0; i < all_specials_.size(); ++i) {
      if (next[i] != std::string_view::npos && next[i] < pos) next[i] = text.find(all_specials_[i], pos);
      const size_t at = next[i], len = all_specials_[i].size();
      if (at < best || (at == best && at != std::string_view::npos && len > best_len)) { best = at; best_len = len; }
    }
    std::string_view chunk = text.substr(pos, best == std::string_view::npos ? std::string_view::npos : best - pos);
    for (std::string_view w : counts_->pre->split(chunk)) {
      ++counts_->count[std::string(w)];
      ++counts_->words;
    }
    if (best == std::string_view::npos) break;
    pos = best + best_len;
  }
}

BpeVocab BpeTrainer::train() const {
  BpeVocab v;
  v.pre = opts_.pre;
  const ByteMap& bm = byte_map();
  std::vector<std::string> token_bytes;  // raw bytes of each token (specials: their text)
  for (int b = 0; b < 256; ++b) {
    token_bytes.push_back(std::string(1, char(b)));
    v.tokens.push_back(bm.byte_to_utf8[b]);
    v.token_types.push_back(int32_t(TokenType::NORMAL));
  }
  for (const auto& s : all_specials_) {
    token_bytes.push_back(s);
    v.tokens.push_back(s);
    v.token_types.push_back(int32_t(TokenType::CONTROL));
  }
  v.bos = v.eos = 256;
  if (opts_.chatml) v.chat_template = chatml_template();

  // Unique words in a fixed order (sorted), so that training does not depend on hashing.
  std::vector<std::pair<std::string, int64_t>> sorted(counts_->count.begin(), counts_->count.end());
  std::sort(sorted.begin(), sorted.end());
  v.words = counts_->words;
  v.unique_words = sorted.size();
  // Each word is a linked list of symbols, and each pair remembers where it
  // occurs (word and position), so that a merge touches only its own
  // occurrences and their neighbours: a word of a million digits costs a
  // few steps per merge that happens in it, not a million.
  std::vector<std::vector<Symbol>> words(sorted.size());
  std::vector<int64_t> freq(sorted.size());
  for (size_t w = 0; w < sorted.size(); ++w) {
    const std::string& text = sorted[w].first;
    if (text.size() >= kNoSymbol) fail("train-tokenizer: a word of ", text.size(), " bytes is too long");
    for (size_t i = 0; i < text.size(); ++i)
      words[w].push_back({int32_t(uint8_t(text[i])), i == 0 ? kNoSymbol : uint32_t(i - 1),
                          i + 1 == text.size() ? kNoSymbol : uint32_t(i + 1)});
    freq[w] = sorted[w].second;
  }
  sorted.clear();

  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<Occurrence>> where;  // may hold stale occurrences
  for (size_t w = 0; w < words.size(); ++w) {
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      const uint64_t k = pair_key(words[w][i].id, words[w][i + 1].id);
      pair_count[k] += freq[w];
      where[k].push_back({uint32_t(w), uint32_t(i)});
    }
  }
  std::priority_queue<Candidate> queue;
  for (const auto& [k, c] : pair_count) queue.push({c, k});

  std::unordered_set<uint64_t> new_pairs;
  while (int(v.tokens.size()) < opts_.vocab_size && !queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    auto it = pair_count.find(top.key);
    const int64_t current = it == pair_count.end() ? 0 : it->second;
    if (current != top.count) {  // stale entry: counts only fall, so re-queue the true count
      if (current > 0) queue.push({current, top.key});
      continue;
    }
    if (current < opts_.min_frequency) break;
    const int32_t a = pair_left(top.key), b = pair_right(top.key);
    const int32_t c = int32_t(v.tokens.size());
    token_bytes.push_back(token_bytes[a] + token_bytes[b]);
    v.tokens.push_back(v.tokens[a] + v.tokens[b]);
    v.token_types.push_back(int32_t(TokenType::NORMAL));
    v.merges.push_back(v.tokens[a] + " " + v.tokens[b]);

    new_pairs.clear();
    std::vector<Occurrence> occurrences = std::move(where[top.key]);
    where.erase(top.key);
    // Left to right within each word, so that overlapping occurrences
    // ("a a a" for the pair a a) merge as a scan of the word would.
    std::sort(occurrences.begin(), occurrences.end());
    occurrences.erase(std::unique(occurrences.begin(), occurrences.end()), occurrences.end());
    for (const Occurrence& o : occurrences) {
      std::vector<Symbol>& s = words[o.word];
      Symbol& x = s[o.pos];
      if (x.id != a || x.next == kNoSymbol || s[x.next].id != b) continue;  // stale
      const int64_t f = freq[o.word];
      Symbol& y = s[x.next];
      if (x.prev != kNoSymbol) pair_count[pair_key(s[x.prev].id, a)] -= f;
      if (y.next != kNoSymbol) pair_count[pair_key(b, s[y.next].id)] -= f;
      x.id = c;
      x.next = y.next;
      if (y.next != kNoSymbol) s[y.next].prev = o.pos;
      y.id = -1;
      if (x.prev != kNoSymbol) {
        const uint64_t k = pair_key(s[x.prev].id, c);
        pair_count[k] += f;
        where[k].push_back({o.word, x.prev});
        new_pairs.insert(k);
      }
      if (x.next != kNoSymbol) {
        const uint64_t k = pair_key(c, s[x.next].id);
        pair_count[k] += f;
        where[k].push_back({o.word, o.pos});
        new_pairs.insert(k);
      }
    }
    pair_count.erase(top.key);
    for (uint64_t k : new_pairs) {
      const int64_t n = pair_count[k];
      if (n > 0) queue.push({n, k});
    }
  }
  return v;
}

void vocab_to_metadata(const BpeVocab& v, gguf::Metadata& md) {
  md.set("tokenizer.ggml.model", gguf::Value::make_string("gpt2"));
  md.set("tokenizer.ggml.pre", gguf::Value::make_string(gguf::pre_tokenizer_name_for_file(v.pre)));
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(v.tokens));
  md.set("tokenizer.ggml.token_type", gguf::Value::make_i32_array(v.token_types));
  md.set("tokenizer.ggml.merges", gguf::Value::make_string_array(v.merges));
  if (v.bos >= 0) md.set("tokenizer.ggml.bos_token_id", gguf::Value::make_u32(uint32_t(v.bos)));
  if (v.eos >= 0) md.set("tokenizer.ggml.eos_token_id", gguf::Value::make_u32(uint32_t(v.eos)));
  md.set("tokenizer.ggml.add_bos_token", gguf::Value::make_bool(false));
  if (!v.chat_template.empty()) md.set("tokenizer.chat_template", gguf::Value::make_string(v.chat_template));
}

std::string vocab_to_tokenizer_json(const BpeVocab& v) {
  using nlohmann::ordered_json;
  ordered_json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  ordered_json pre;
  if (v.pre == "default") {
    pre = byte_level;
    pre["use_regex"] = true;
  } else {
    ordered_json parts = ordered_json::array();
    for (const std::string& re : pretokenizer_regexes(v.pre)) {
      parts.push_back({{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}});
    }
    parts.push_back(byte_level);
    pre = {{"type", "Sequence"}, {"pretokenizers", parts}};
  }
  ordered_json added = ordered_json::array();
  ordered_json vocab = ordered_json::object();
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (v.token_types[id] == int32_t(TokenType::CONTROL)) {
      added.push_back({{"id", id}, {"content", v.tokens[id]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", true}});
    } else {
      vocab[v.tokens[id]] = id;
    }
  }
  ordered_json model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                        {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                        {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", ignores_merges(v.pre)},
                        {"vocab", vocab}, {"merges", v.merges}};
  ordered_json j = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
                    {"normalizer", nullptr}, {"pre_tokenizer", pre}, {"post_processor", byte_level},
                    {"decoder", byte_level}, {"model", model}};
  return j.dump(1) + "\n";
}

std::string vocab_to_tokenizer_config_json(const BpeVocab& v) {
  nlohmann::ordered_json j = {{"add_bos_token", false}, {"add_eos_token", false}};
  if (v.bos >= 0) j["bos_token"] = v.tokens[v.bos];
  if (v.eos >= 0) j["eos_token"] = v.tokens[v.eos];
  j["clean_up_tokenization_spaces"] = false;
  j["model_max_length"] = 1 << 20;
  j["tokenizer_class"] = "PreTrainedTokenizerFast";
  if (!v.chat_template.empty()) j["chat_template"] = v.chat_template;
  return j.dump(1) + "\n";
}

}  // namespace frugal::tokenizer
