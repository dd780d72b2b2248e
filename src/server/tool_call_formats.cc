// The tool-call formats of the model families frugal serves, one table.
#include "server/tool_calls.h"

namespace frugal::server {

namespace {

// Checked in order: the first whose `detect` text is in the template wins
// (gpt-oss speaks harmony and is recognised by its vocabulary first). The
// forced texts are the family's own: a forced call reads back as the model
// would have written it, and the template renders it the same way next turn.
constexpr ToolCallFormat kFormats[] = {
    {.family = "deepseek-v3", .detect = "tool▁calls▁begin", .open = "<｜tool▁call▁begin｜>",
     .close = "<｜tool▁call▁end｜>", .wrappers = {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"},
     .shape = CallShape::kDeepSeek,
     .forced_open = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>",
     .forced_name = "{name}\n```json\n",
     .forced_close = "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
    {.family = "hermes", .detect = "<tool_call>", .open = "<tool_call>", .close = "</tool_call>",
     .wrappers = {nullptr, nullptr}, .shape = CallShape::kNamedObject,
     .forced_open = "<tool_call>\n", .forced_name = "{\"name\": \"{name}\", \"arguments\": ",
     .forced_close = "}\n</tool_call>"},
    {.family = "mistral", .detect = "[TOOL_CALLS]", .open = "[TOOL_CALLS]", .close = "",
     .wrappers = {nullptr, nullptr}, .shape = CallShape::kMistral,
     .forced_open = "[TOOL_CALLS][", .forced_name = "{\"name\": \"{name}\", \"arguments\": ", .forced_close = "}]"},
    {.family = "llama3", .detect = "ipython", .open = "{\"", .close = "",
     .wrappers = {"<|python_tag|>", "<|python_start|>"}, .shape = CallShape::kNamedObject,
     .forced_open = "", .forced_name = "{\"name\": \"{name}\", \"parameters\": ", .forced_close = "}"},
};

// No family named by the template: a forced call is the object alone.
constexpr ToolCallFormat kPlain = {.family = "json", .detect = "", .open = "{\"", .close = "",
                                   .wrappers = {nullptr, nullptr}, .shape = CallShape::kNamedObject,
                                   .forced_open = "", .forced_name = "{\"name\": \"{name}\", \"arguments\": ",
                                   .forced_close = "}"};

// gpt-oss: its calls are harmony messages (HarmonyCallReader); only the forced texts are used.
constexpr ToolCallFormat kHarmony = {.family = "harmony", .detect = "", .open = "", .close = "",
                                     .wrappers = {nullptr, nullptr}, .shape = CallShape::kNamedObject,
                                     .forced_open = "<|channel|>commentary to=functions.",
                                     .forced_name = "{name} <|constrain|>json<|message|>",
                                     .forced_close = "<|call|>"};

}  // namespace

const ToolCallFormat* tool_call_format_for_template(std::string_view chat_template) {
  for (const ToolCallFormat& f : kFormats)
    if (chat_template.find(f.detect) != std::string_view::npos) return &f;
  return nullptr;
}

const ToolCallFormat& plain_tool_call_format() { return kPlain; }
const ToolCallFormat& harmony_tool_call_format() { return kHarmony; }

const ToolCallFormat* tool_call_format(std::string_view family) {
  for (const ToolCallFormat* f : tool_call_formats())
    if (family == f->family) return f;
  return nullptr;
}

std::vector<const ToolCallFormat*> tool_call_formats() {
  std::vector<const ToolCallFormat*> all;
  for (const ToolCallFormat& f : kFormats) all.push_back(&f);
  all.push_back(&kPlain);
  all.push_back(&kHarmony);
  return all;
}

}  // namespace frugal::server
