// Tool calls read back out of each family's text, whole and streamed: the
// text split at every byte boundary (and fed one byte at a time) gives the
// same content and calls as the whole.
#include <gtest/gtest.h>

#include "base/utf8.h"
#include "server/tool_calls.h"

namespace frugal::server {
namespace {

struct Case {
  const char* family;
  std::string text;
  std::string content;             // what lies outside the calls
  std::vector<ToolCall> calls;
};

ToolCallPiece merged(ToolCallPiece a, ToolCallPiece b) {
  for (ToolCallDelta& d : b.deltas) d.content_at += a.content.size(), a.deltas.push_back(std::move(d));
  a.content += b.content;
  for (ToolCall& c : b.calls) a.calls.push_back(std::move(c));
  return a;
}

// The calls as a streaming client puts them together from the deltas: a
// head (name, no arguments) first, then fragments of its arguments; and
// each call's place in the content.
void expect_same(const ToolCallPiece& got, const Case& want, const std::string& how) {
  EXPECT_EQ(got.content, want.content) << want.family << " " << how;
  ASSERT_EQ(got.calls.size(), want.calls.size()) << want.family << " " << how;
  for (size_t i = 0; i < got.calls.size(); ++i) {
    EXPECT_EQ(got.calls[i].name, want.calls[i].name) << want.family << " " << how;
    EXPECT_EQ(got.calls[i].arguments, want.calls[i].arguments) << want.family << " " << how;
  }
  std::vector<ToolCall> streamed;
  size_t at = 0;
  for (const ToolCallDelta& d : got.deltas) {
    EXPECT_GE(d.content_at, at) << want.family << " " << how;
    at = d.content_at;
    if (!d.name.empty()) {
      EXPECT_EQ(d.call, static_cast<int>(streamed.size())) << want.family << " " << how;
      EXPECT_EQ(d.arguments, "") << want.family << " " << how;
      streamed.push_back({d.name, ""});
      continue;
    }
    ASSERT_EQ(d.call + 1, static_cast<int>(streamed.size())) << want.family << " " << how;
    EXPECT_FALSE(d.arguments.empty());
    streamed.back().arguments += d.arguments;
  }
  ASSERT_EQ(streamed.size(), want.calls.size()) << want.family << " " << how;
  for (size_t i = 0; i < streamed.size(); ++i) {
    EXPECT_EQ(streamed[i].name, want.calls[i].name) << want.family << " " << how;
    EXPECT_EQ(streamed[i].arguments, want.calls[i].arguments) << want.family << " " << how;
  }
}

void check(const Case& c) {
  const ToolCallFormat* f = tool_call_format(c.family);
  ASSERT_NE(f, nullptr) << c.family;
  expect_same(parse_tool_calls(*f, c.text), c, "whole");
  for (size_t cut = 0; cut <= c.text.size(); ++cut) {
    ToolCallParser p(*f);
    ToolCallPiece got = p.feed(std::string_view(c.text).substr(0, cut));
    got = merged(std::move(got), p.feed(std::string_view(c.text).substr(cut)));
    expect_same(merged(std::move(got), p.finish()), c, "split at " + std::to_string(cut));
  }
  ToolCallParser p(*f);
  ToolCallPiece got;
  for (char ch : c.text) got = merged(std::move(got), p.feed(std::string_view(&ch, 1)));
  expect_same(merged(std::move(got), p.finish()), c, "byte by byte");
}

const std::string kArgs = R"({"city":"Paris","unit":"°C"})";

TEST(ToolCalls, Hermes) {
  check({"hermes", "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"°C\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
         "Let me look.\n\n", {{"get_weather", kArgs}, {"now", "{}"}}});
  // Not a call: given back as the text it was.
  check({"hermes", "a <tool_call>{oops}</tool_call> b <tool_", "a <tool_call>{oops}</tool_call> b <tool_", {}});
  check({"hermes", "no calls at all, <tool but not quite", "no calls at all, <tool but not quite", {}});
}

TEST(ToolCalls, DeepSeekV3) {
  check({"deepseek-v3",
         "Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\", \"unit\": \"°C\"}\n```<｜tool▁call▁end｜>"
         "<｜tool▁call▁begin｜>function<｜tool▁sep｜>now\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
         "Sure.", {{"get_weather", kArgs}, {"now", "{}"}}});
  // V3.1: NAME<｜tool▁sep｜>ARGS
  check({"deepseek-v3", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\":\"Paris\",\"unit\":\"°C\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
         "", {{"get_weather", kArgs}}});
}

TEST(ToolCalls, Mistral) {
  check({"mistral", "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"°C\"}}, {\"name\": \"now\", \"arguments\": {}}]",
         "", {{"get_weather", kArgs}, {"now", "{}"}}});
  check({"mistral", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\", \"unit\": \"°C\"}[TOOL_CALLS]now[ARGS]{}", "",
         {{"get_weather", kArgs}, {"now", "{}"}}});
  check({"mistral", "text then [TOOL_CALLS] not json", "text then [TOOL_CALLS] not json", {}});
}

TEST(ToolCalls, Llama) {
  check({"llama3", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"°C\"}}", "", {{"get_weather", kArgs}}});
  check({"llama3", "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": \"{\\\"city\\\": \\\"Paris\\\", \\\"unit\\\": \\\"°C\\\"}\"}", "",
         {{"get_weather", kArgs}}});
  check({"llama3", "{\"parameters\": {\"city\": \"Paris\", \"unit\": \"°C\"}, \"name\": \"get_weather\"}", "", {{"get_weather", kArgs}}});
  check({"llama3", "The answer is 4.", "The answer is 4.", {}});
  check({"llama3", "As JSON: {\"answer\": 4} and so on", "As JSON: {\"answer\": 4} and so on", {}});
}

// gpt-oss: the analysis is no call; the commentary message to
// functions.get_weather is, whether the text comes whole or in two pieces.
TEST(ToolCalls, Harmony) {
  const std::string text =
      "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary "
      "to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\", \"unit\": \"°C\"}<|call|>";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    tokenizer::HarmonyParser parser;
    std::vector<tokenizer::HarmonyPiece> pieces = parser.feed(std::string_view(text).substr(0, cut));
    for (auto& p : parser.feed(std::string_view(text).substr(cut))) pieces.push_back(std::move(p));
    for (auto& p : parser.finish()) pieces.push_back(std::move(p));
    HarmonyCallReader reader;
    ToolCallPiece got;
    for (const tokenizer::HarmonyPiece& p : pieces) reader.feed(p, got);
    expect_same(got, {"harmony", text, "", {{"get_weather", kArgs}}}, "split at " + std::to_string(cut));
  }
}

// Arguments grow as the tokens come: fed a byte at a time, a call's
// arguments arrive in many fragments, before its end marker.
TEST(ToolCalls, ArgumentsStreamBeforeTheCallEnds) {
  const std::string text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"°C\"}}\n</tool_call>";
  ToolCallParser p(*tool_call_format("hermes"));
  int fragments = 0;
  bool head = false;
  for (size_t k = 0; k < text.size(); ++k) {
    const ToolCallPiece piece = p.feed(std::string_view(text).substr(k, 1));
    EXPECT_EQ(piece.content, "");
    for (const ToolCallDelta& d : piece.deltas) {
      if (!d.name.empty()) {
        EXPECT_EQ(fragments, 0);
        head = true;
      } else {
        EXPECT_TRUE(head);
        ++fragments;
      }
    }
    if (text.compare(k + 1, 12, "</tool_call>") == 0) {
      EXPECT_GT(fragments, 10) << "before the close marker";
    }
  }
  EXPECT_TRUE(p.finish().calls.empty());
}

// A call the server forces is written in its family's own markers (the
// forced texts of the table, then arguments): each family reads it back as
// that one call, whole and streamed, with one function or a choice of several.
TEST(ToolCalls, ForcedCallsReadBackInEveryFamily) {
  const std::string args = R"({"city":"Paris","unit":"°C"})";
  for (const ToolCallFormat* f : tool_call_formats()) {
    std::string name_text = f->forced_name;
    name_text.replace(name_text.find("{name}"), 6, "get_weather");
    const std::string text = std::string(f->forced_open) + name_text + args + f->forced_close;
    if (std::string_view(f->family) == "harmony") {
      tokenizer::HarmonyParser parser;
      std::vector<tokenizer::HarmonyPiece> pieces = parser.feed(text);
      for (auto& piece : parser.finish()) pieces.push_back(std::move(piece));
      HarmonyCallReader reader;
      ToolCallPiece got;
      for (const tokenizer::HarmonyPiece& piece : pieces) reader.feed(piece, got);
      expect_same(got, {f->family, text, "", {{"get_weather", args}}}, "forced");
      continue;
    }
    check({f->family, text, "", {{"get_weather", args}}});
  }
}

// Text that arrives as whole characters leaves as whole characters: what is
// held back is always the start of a marker, which starts a character.
TEST(ToolCalls, ContentPiecesAreWholeCharacters) {
  const std::string text = "日本<｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{}<｜tool▁call▁end｜>é<｜tool▁calls▁end｜>ü<｜tool";
  ToolCallParser p(*tool_call_format("deepseek-v3"));
  std::string content;
  for (size_t at = 0; at < text.size();) {
    const size_t n = utf8_char_len(text, at);
    ASSERT_GT(n, 0u);
    const ToolCallPiece piece = p.feed(std::string_view(text).substr(at, n));
    EXPECT_TRUE(is_valid_utf8(piece.content)) << at;
    content += piece.content;
    at += n;
  }
  content += p.finish().content;
  EXPECT_EQ(content, "日本éü<｜tool");
}

TEST(ToolCalls, FormatFromTemplate) {
  EXPECT_STREQ(tool_call_format_for_template("{{- '<tool_call>\\n' }}")->family, "hermes");
  EXPECT_STREQ(tool_call_format_for_template("'<｜tool▁calls▁begin｜>'")->family, "deepseek-v3");
  EXPECT_STREQ(tool_call_format_for_template("{{ '[TOOL_CALLS]' }}")->family, "mistral");
  EXPECT_STREQ(tool_call_format_for_template("<|start_header_id|>ipython<|end_header_id|>")->family, "llama3");
  EXPECT_EQ(tool_call_format_for_template("{{ messages[0].content }}"), nullptr);
}

}  // namespace
}  // namespace frugal::server
