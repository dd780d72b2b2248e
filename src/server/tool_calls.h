// Tool calls read back out of a model's text. Each model family writes a
// call its own way (its chat template shows the model how); one table names
// the families, how to recognise their templates, the markers around a call,
// and the text that opens a call the server forces. The parser takes the
// text as it streams and passes through what lies outside a call as content
// (holding back only what could be the start of a marker). Inside a call it
// reads the call's body byte by byte: once the name is known and the
// arguments have begun, the call is announced (its head), and its arguments
// follow as fragments of JSON text as they arrive, so that a client sees a
// call grow as OpenAI streams one. gpt-oss (harmony) calls are read by
// tokenizer/harmony.h, whose messages name their recipient
// ("to=functions.NAME"), and HarmonyCallReader below.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/harmony.h"

namespace frugal::server {

struct ToolCall {
  std::string name;
  // The arguments as the model wrote them, less the whitespace outside JSON
  // strings ("{}" when it gave none); the concatenation of the call's
  // streamed fragments.
  std::string arguments;
};

// How a family lays out the text between a call's markers.
enum class CallShape {
  kNamedObject,  // {"name": ..., "arguments" (or "parameters"): {...}}, keys in either order
  kMistral,      // [{"name": ..., "arguments": {...}}, ...] or NAME[ARGS]{...}
  kDeepSeek,     // function<｜tool▁sep｜>NAME\n```json\n{...}\n``` or NAME<｜tool▁sep｜>{...}
};

struct ToolCallFormat {
  const char* family;        // "hermes", "deepseek-v3", ...
  const char* detect;        // text found in the family's chat template
  const char* open;          // starts one call (or a list of calls)
  const char* close;         // ends it; empty: the call runs to its body's end
  const char* wrappers[2];   // markers around a group of calls, dropped from the content
  CallShape shape;
  // A call forced by tool_choice, in the family's own markers: `forced_open`
  // is written after the generation prompt, the model then writes
  // `forced_name` (with the function's name for "{name}") and the arguments
  // (held to the function's parameters), and `forced_close` ends the call.
  const char* forced_open;
  const char* forced_name;
  const char* forced_close;
};

// The format a chat template teaches, or null (no tool calls are read).
const ToolCallFormat* tool_call_format_for_template(std::string_view chat_template);
// The format of a model whose template names no family (or has none): a
// forced call is the object {"name": ..., "arguments": {...}} alone.
const ToolCallFormat& plain_tool_call_format();
// gpt-oss's harmony, for the forced texts (its calls are read by HarmonyCallReader).
const ToolCallFormat& harmony_tool_call_format();
// By family name, for tests; null when unknown.
const ToolCallFormat* tool_call_format(std::string_view family);
// Every family of the table, for tests.
std::vector<const ToolCallFormat*> tool_call_formats();

// A part of a streamed call: its head (index, name) on its first delta,
// then fragments of its arguments.
struct ToolCallDelta {
  size_t content_at = 0;  // how much of the piece's content comes before it
  int call = 0;           // the call's index among the parser's calls
  std::string name;       // set on the head only
  std::string arguments;  // a fragment (empty on the head)
};

struct ToolCallPiece {
  std::string content;               // text outside calls, in order
  std::vector<ToolCallDelta> deltas;  // calls as they grow, in order
  std::vector<ToolCall> calls;       // calls completed by this piece of text
};

class CallReader;  // one body's reader (tool_calls.cc)

class ToolCallParser {
 public:
  explicit ToolCallParser(const ToolCallFormat& format);
  ~ToolCallParser();
  ToolCallParser(ToolCallParser&&) noexcept;
  ToolCallPiece feed(std::string_view text);
  // The end of the text: a call under way ends with what it has; a body
  // that never became a call is given back as content.
  ToolCallPiece finish();

 private:
  void scan(ToolCallPiece& out);
  void read_body(ToolCallPiece& out);
  void give_back(ToolCallPiece& out);
  void flush_call(ToolCallPiece& out, bool ended);

  const ToolCallFormat* format_;
  std::string pending_;
  enum class State { kOutside, kBody, kToClose } state_ = State::kOutside;
  std::unique_ptr<CallReader> reader_;
  std::string raw_;       // the body read so far (given back if it is no call)
  bool started_ = false;  // the current call's head is out
  size_t sent_ = 0;       // bytes of its arguments out
  int calls_ = 0;         // calls started so far
  bool any_call_ = false; // this body has made a call
  bool at_end_ = false;   // finish(): no marker is held back
};

// The arguments' text, less the whitespace outside strings, byte by byte
// (text that does not begin as JSON passes whole).
class JsonCompactor {
 public:
  void take(char b, std::string& out);

 private:
  bool in_string_ = false, escape_ = false, json_ = false, begun_ = false;
};

// gpt-oss (harmony): a message to "functions.NAME" is a call, its content
// the arguments. Pieces of other messages are ignored (false).
class HarmonyCallReader {
 public:
  // Adds the deltas of `piece` (content_at left 0) and, at its message's
  // end, the whole call to `out`; false for a piece that is no call.
  bool feed(const tokenizer::HarmonyPiece& piece, ToolCallPiece& out);

 private:
  bool open_ = false;
  std::string name_, arguments_;
  size_t sent_ = 0;
  int calls_ = 0;
  JsonCompactor compact_;
};

// A whole answer at once.
ToolCallPiece parse_tool_calls(const ToolCallFormat& format, std::string_view text);

}  // namespace frugal::server
