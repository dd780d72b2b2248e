// The tool-call formats of the model families frugal serves, one table.
#include <nlohmann/json.hpp>

#include "server/tool_calls.h"

namespace frugal::server {

namespace {

using json = nlohmann::ordered_json;

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Arguments as compact JSON object text: models write an object, or
// (some templates) a string holding one.
bool arguments_text(const json& args, std::string& out) {
  if (args.is_null()) return out = "{}", true;
  if (args.is_object()) return out = args.dump(), true;
  if (!args.is_string()) return false;
  const json inner = json::parse(args.get<std::string>(), nullptr, false);
  if (!inner.is_object()) return false;
  return out = inner.dump(), true;
}

// {"name": ..., "arguments" (or "parameters"): {...}}
bool read_named_object(const json& j, std::vector<ToolCall>& out) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  ToolCall c{.name = j["name"].get<std::string>(), .arguments = {}};
  const json args = j.contains("arguments") ? j["arguments"] : j.value("parameters", json());
  if (c.name.empty() || !arguments_text(args, c.arguments)) return false;
  out.push_back(std::move(c));
  return true;
}

// Qwen3, Qwen2.5, Hermes: <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>
bool read_hermes(std::string_view body, std::vector<ToolCall>& out) {
  return read_named_object(json::parse(trim(body), nullptr, false), out);
}

// Llama 3.1-3.3 and 4: {"name": ..., "parameters": {...}} as the whole
// answer, its keys in either order; the open marker {" is part of the
// object (an answer with other JSON in it is given back as text).
bool read_llama_json(std::string_view body, std::vector<ToolCall>& out) {
  std::string text = "{\"";
  text += trim(body);
  return read_named_object(json::parse(text, nullptr, false), out);
}

// Mistral / Mixtral: [TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...],
// or the newer NAME[ARGS]{...} once per call, each after its own [TOOL_CALLS].
bool read_mistral(std::string_view body, std::vector<ToolCall>& out) {
  body = trim(body);
  const size_t before = out.size();
  if (body.starts_with('[')) {
    const json list = json::parse(body, nullptr, false);
    if (!list.is_array() || list.empty()) return false;
    for (const json& j : list)
      if (!read_named_object(j, out)) return out.resize(before), false;
    return true;
  }
  constexpr std::string_view kNext = "[TOOL_CALLS]", kArgs = "[ARGS]";
  while (!body.empty()) {
    const size_t next = body.find(kNext);
    std::string_view one = body.substr(0, next);
    body = next == std::string_view::npos ? std::string_view() : body.substr(next + kNext.size());
    const size_t a = one.find(kArgs);
    ToolCall c;
    if (a == std::string_view::npos || (c.name = std::string(trim(one.substr(0, a)))).empty() ||
        !arguments_text(json::parse(trim(one.substr(a + kArgs.size())), nullptr, false), c.arguments))
      return out.resize(before), false;
    out.push_back(std::move(c));
  }
  return out.size() > before;
}

// DeepSeek-V3: function<｜tool▁sep｜>NAME\n```json\n{...}\n```
// (V3.1: NAME<｜tool▁sep｜>{...}), between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>.
bool read_deepseek(std::string_view body, std::vector<ToolCall>& out) {
  constexpr std::string_view kSep = "<｜tool▁sep｜>";
  const size_t sep = body.find(kSep);
  if (sep == std::string_view::npos) return false;
  std::string_view left = trim(body.substr(0, sep)), right = body.substr(sep + kSep.size());
  ToolCall c;
  if (left == "function") {
    const size_t nl = right.find('\n');
    if (nl == std::string_view::npos) return false;
    c.name = std::string(trim(right.substr(0, nl)));
    right = trim(right.substr(nl + 1));
    if (right.starts_with("```json")) right.remove_prefix(7);
    else if (right.starts_with("```")) right.remove_prefix(3);
    right = trim(right);
    if (right.ends_with("```")) right.remove_suffix(3);
  } else {
    c.name = std::string(left);
  }
  if (c.name.empty() || !arguments_text(json::parse(trim(right), nullptr, false), c.arguments)) return false;
  out.push_back(std::move(c));
  return true;
}

// A forced call: the whole answer is the object; the open marker { is its first byte.
bool read_forced(std::string_view body, std::vector<ToolCall>& out) {
  return read_named_object(json::parse("{" + std::string(body), nullptr, false), out);
}

constexpr ToolCallFormat kForced = {.family = "forced", .detect = "", .open = "{", .close = "",
                                    .wrappers = {nullptr, nullptr}, .read = read_forced};

// Checked in order: the first whose `detect` text is in the template wins
// (gpt-oss speaks harmony and is recognised by its vocabulary first).
constexpr ToolCallFormat kFormats[] = {
    {.family = "deepseek-v3", .detect = "tool▁calls▁begin", .open = "<｜tool▁call▁begin｜>",
     .close = "<｜tool▁call▁end｜>", .wrappers = {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"},
     .read = read_deepseek},
    {.family = "hermes", .detect = "<tool_call>", .open = "<tool_call>", .close = "</tool_call>",
     .wrappers = {nullptr, nullptr}, .read = read_hermes},
    {.family = "mistral", .detect = "[TOOL_CALLS]", .open = "[TOOL_CALLS]", .close = "",
     .wrappers = {nullptr, nullptr}, .read = read_mistral},
    {.family = "llama3", .detect = "ipython", .open = "{\"", .close = "",
     .wrappers = {"<|python_tag|>", "<|python_start|>"}, .read = read_llama_json},
};

}  // namespace

const ToolCallFormat* tool_call_format_for_template(std::string_view chat_template) {
  for (const ToolCallFormat& f : kFormats)
    if (chat_template.find(f.detect) != std::string_view::npos) return &f;
  return nullptr;
}

const ToolCallFormat& forced_tool_call_format() { return kForced; }

const ToolCallFormat* tool_call_format(std::string_view family) {
  if (family == kForced.family) return &kForced;
  for (const ToolCallFormat& f : kFormats)
    if (family == f.family) return &f;
  return nullptr;
}

}  // namespace frugal::server
