// The harmony format of gpt-oss's answers, read as the text streams out. An
// answer is a sequence of messages, each a header and a content:
//   <|channel|>analysis<|message|>reasoning...<|end|>
//   <|start|>assistant<|channel|>final<|message|>the answer<|return|>
// (the chat template's generation prompt already wrote the first
// "<|start|>assistant"). A header may name a recipient ("to=functions.f",
// a tool call, which ends with <|call|>) and a content type
// ("<|constrain|>json"). The parser splits the text into the contents of
// each channel as they arrive, holding back only what could be the start of
// a marker, so a caller can show the final channel as the answer and the
// analysis channel as reasoning while the tokens stream. Text that does not
// begin with a header is taken as the final channel (a model that skips the
// format still answers).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace frugal::tokenizer {

struct HarmonyPiece {
  std::string channel;    // "analysis", "commentary", "final", ... ("final" when the text had no header)
  std::string recipient;  // "functions.get_weather" for a tool call, else empty
  std::string text;       // content, a part of one message
  bool end = false;       // the message ends here (text may be empty)
};

class HarmonyParser {
 public:
  // Content found in `text` (appended to what came before), in order.
  std::vector<HarmonyPiece> feed(std::string_view text);
  // The end of the stream: what was held back, as content of the current
  // message (an unfinished header is dropped).
  std::vector<HarmonyPiece> finish();
  // Whether <|return|> or <|call|> ended the answer.
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kStart, kHeader, kContent, kBetween, kDone };
  void parse_header();
  void emit(std::vector<HarmonyPiece>& out, std::string text, bool end);

  State state_ = State::kStart;
  std::string pending_;  // text not yet consumed
  std::string channel_, recipient_;
};

// A whole answer at once: the final channel's text, the analysis channel's,
// and the tool calls.
struct HarmonyAnswer {
  std::string final_text;
  std::string analysis;
  std::vector<HarmonyPiece> tool_calls;  // commentary messages with a recipient, whole
};
HarmonyAnswer parse_harmony(std::string_view text);

class Tokenizer;
// Whether a vocabulary speaks harmony: <|channel|> and <|message|> are
// single special tokens in it.
bool speaks_harmony(const Tokenizer& tok);
// The stop strings that end a harmony answer: <|return|>, <|call|> (a tool
// call), <|endoftext|>. Its <|end|> closes one message, not the answer, so
// callers stop on these instead of the vocabulary's end-of-generation tokens.
const std::vector<std::string>& harmony_stops();

}  // namespace frugal::tokenizer
