// Tokenizers read from GGUF metadata (tokenizer.ggml.* keys): SentencePiece-
// style "llama" vocabularies (scores, byte fallback <0xXX>, leading space) and
// byte-level BPE "gpt2" vocabularies (merge ranks, a pre-tokenizer regex named
// by tokenizer.ggml.pre). Also streaming decode and chat templates.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/value.h"

namespace frugal::tokenizer {

// Token types as GGUF stores them in tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6,
};

struct TokenizerImpl;  // vocabulary, merges, pre-tokenizer (tokenizer.cc)

class Tokenizer {
 public:
  // Reads tokenizer.ggml.model ("llama" or "gpt2"), tokens, token_type, scores,
  // merges, pre, bos/eos/eot/eom/pad ids, add_bos_token, add_space_prefix and
  // normalizer (frugal's key for a tokenizer.json normalizer: NFC, NFD, NFKC, NFKD;
  // the text between special tokens is normalised before encoding).
  // Missing or inconsistent keys, or an unknown model/pre name -> frugal::Error.
  static Tokenizer from_metadata(const gguf::Metadata& md);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // parse_special: control and user-defined tokens spelled in the text are
  // split out and emitted as their ids before the rest is tokenized.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;
  // Concatenated pieces, byte tokens turned back into bytes; control tokens
  // are rendered as their text. Out-of-range ids -> frugal::Error.
  std::string decode(std::span<const int32_t> ids) const;
  std::string token_piece(int32_t id) const;  // raw piece, for display

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when absent
  int32_t eos() const;  // -1 when absent
  bool is_end_of_generation(int32_t id) const;  // EOS, EOT, EOM, <|im_end|>, ...
  bool add_bos_default() const;                 // tokenizer.ggml.add_bos_token

  // The bytes one token stands for (decoded; a byte token gives one byte).
  std::string token_bytes(int32_t id) const;

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  std::unique_ptr<TokenizerImpl> impl_;
};

// Streams text out token by token as valid UTF-8: bytes of an incomplete
// character are held back until the rest arrives; bytes that can never make a
// character (and, at flush(), an unfinished one) come out as U+FFFD. Clients
// of the server and terminals are thus never sent broken text.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok);
  std::string push(int32_t id);
  std::string flush();  // what is held back, an unfinished character as U+FFFD

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

// Chat templates (tokenizer.chat_template).
struct ChatMessage {
  std::string role, content;
  std::string tool_calls_json;  // optional: JSON array of tool calls ("" when none)
};
// Renders tokenizer.chat_template with messages, bos_token, eos_token and
// add_generation_prompt. Without a template: a documented plain fallback
// ("<role>: content\n" lines, then "assistant: " when asked) and a note on stderr.
std::string apply_chat_template(const gguf::Metadata& md, const std::vector<ChatMessage>& msgs,
                                bool add_generation_prompt);

}  // namespace frugal::tokenizer
