// Tool calls read back out of a model's text. Each model family writes a
// call its own way (its chat template shows the model how); one table names
// the families, how to recognise their templates, and the markers around a
// call. The parser takes the text as it streams, passes through what lies
// outside a call as content (holding back only what could be the start of a
// marker), and hands back each call whole when its end marker arrives.
// gpt-oss (harmony) calls are read by tokenizer/harmony.h, whose messages
// name their recipient ("to=functions.NAME").
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/harmony.h"

namespace frugal::server {

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object as compact text ("{}" when the model gave none)
};

struct ToolCallFormat {
  const char* family;        // "hermes", "deepseek-v3", ...
  const char* detect;        // text found in the family's chat template
  const char* open;          // starts one call (or a list of calls)
  const char* close;         // ends it; empty: the call runs to the end of the text
  const char* wrappers[2];   // markers around a group of calls, dropped from the content
  // The text between open and close as calls; false when it is not one.
  bool (*read)(std::string_view body, std::vector<ToolCall>& out);
};

// The format a chat template teaches, or null (no tool calls are read).
const ToolCallFormat* tool_call_format_for_template(std::string_view chat_template);
// The answer of tool_choice "required" or a named function: one JSON object
// {"name": ..., "arguments": {...}} forced by a grammar, in any family.
const ToolCallFormat& forced_tool_call_format();
// By family name, for tests; null when unknown.
const ToolCallFormat* tool_call_format(std::string_view family);

struct ToolCallPiece {
  std::string content;          // text outside calls, in order
  std::vector<ToolCall> calls;  // calls completed by this piece of text
};

class ToolCallParser {
 public:
  explicit ToolCallParser(const ToolCallFormat& format) : format_(format) {}
  ToolCallPiece feed(std::string_view text);
  // The end of the text: a call that runs to the end is read now; an
  // unfinished or unreadable call is given back as content.
  ToolCallPiece finish();

 private:
  void scan(ToolCallPiece& out);

  const ToolCallFormat& format_;
  std::string pending_;
  bool inside_ = false;  // between open and close
};

// gpt-oss (harmony): a message to "functions.NAME" is a call, its content
// the arguments. Each piece of such a message is added to `pending`; true
// with the call in `out` at the message's end. Other pieces: false, untouched.
bool harmony_tool_call(const tokenizer::HarmonyPiece& piece, std::string& pending, ToolCall& out);

// A whole answer at once.
ToolCallPiece parse_tool_calls(const ToolCallFormat& format, std::string_view text);

}  // namespace frugal::server
