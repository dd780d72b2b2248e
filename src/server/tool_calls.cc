#include "server/tool_calls.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace frugal::server {

namespace {

// The markers that change what the text is, outside a call.
std::vector<std::string_view> outside_markers(const ToolCallFormat& f) {
  std::vector<std::string_view> m = {f.open};
  for (const char* w : f.wrappers)
    if (w && *w) m.push_back(w);
  return m;
}

// How many bytes at the end of `text` could begin one of `markers`: they are
// held back until the next text says whether a marker starts there.
size_t possible_marker_start(std::string_view text, const std::vector<std::string_view>& markers) {
  size_t hold = 0;
  for (std::string_view m : markers)
    for (size_t n = std::min(text.size(), m.size() - 1); n > hold; --n)
      if (text.substr(text.size() - n) == m.substr(0, n)) {
        hold = n;
        break;
      }
  return hold;
}

}  // namespace

void ToolCallParser::scan(ToolCallPiece& out) {
  const std::vector<std::string_view> markers = outside_markers(format_);
  for (;;) {
    if (!inside_) {
      size_t at = std::string::npos;
      std::string_view found;
      for (std::string_view m : markers) {
        size_t p = pending_.find(m);
        if (p < at) at = p, found = m;
      }
      if (at == std::string::npos) {
        const size_t keep = possible_marker_start(pending_, markers);
        out.content += pending_.substr(0, pending_.size() - keep);
        pending_.erase(0, pending_.size() - keep);
        return;
      }
      out.content += pending_.substr(0, at);
      pending_.erase(0, at + found.size());
      inside_ = found == std::string_view(format_.open);
      continue;
    }
    const std::string_view close = format_.close;
    if (close.empty()) return;  // read at the end of the text
    const size_t end = pending_.find(close);
    if (end == std::string::npos) return;
    const std::string body = pending_.substr(0, end);
    if (!format_.read(body, out.calls)) out.content += format_.open + body + std::string(close);
    pending_.erase(0, end + close.size());
    inside_ = false;
  }
}

ToolCallPiece ToolCallParser::feed(std::string_view text) {
  pending_ += text;
  ToolCallPiece out;
  scan(out);
  return out;
}

ToolCallPiece ToolCallParser::finish() {
  ToolCallPiece out;
  if (inside_) {
    const bool runs_to_end = std::string_view(format_.close).empty();
    if (!runs_to_end || !format_.read(pending_, out.calls)) out.content += format_.open + pending_;
  } else {
    out.content += pending_;
  }
  pending_.clear();
  inside_ = false;
  return out;
}

bool harmony_tool_call(const tokenizer::HarmonyPiece& piece, std::string& pending, ToolCall& out) {
  constexpr std::string_view kFunctions = "functions.";
  if (!piece.recipient.starts_with(kFunctions)) return false;
  pending += piece.text;
  if (!piece.end) return false;
  const nlohmann::ordered_json args = nlohmann::ordered_json::parse(pending, nullptr, false);
  out = {.name = piece.recipient.substr(kFunctions.size()), .arguments = args.is_object() ? args.dump() : pending};
  pending.clear();
  return true;
}

ToolCallPiece parse_tool_calls(const ToolCallFormat& format, std::string_view text) {
  ToolCallParser p(format);
  ToolCallPiece out = p.feed(text);
  ToolCallPiece rest = p.finish();
  out.content += rest.content;
  for (ToolCall& c : rest.calls) out.calls.push_back(std::move(c));
  return out;
}

}  // namespace frugal::server
