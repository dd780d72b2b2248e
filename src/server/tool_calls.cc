#include "server/tool_calls.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace frugal::server {

namespace {

bool is_space(char b) { return b == ' ' || b == '\t' || b == '\r' || b == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

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

// Where one JSON value ends: nesting and strings followed byte by byte.
struct ValueEnd {
  int depth = 0;
  bool in_string = false, escape = false;
  // Takes a byte of a value that began with '{', '[' or '"'; true when it
  // closed the value.
  bool take(char b) {
    if (in_string) {
      if (escape) escape = false;
      else if (b == '\\') escape = true;
      else if (b == '"') in_string = false;
      return depth == 0 && !in_string;
    }
    if (b == '"') in_string = true;
    else if (b == '{' || b == '[') ++depth;
    else if (b == '}' || b == ']') --depth;
    return depth == 0 && !in_string;
  }
};

// A JSON string's text (between its quotes) decoded; false if it is not one.
bool decode_string(const std::string& quoted_body, std::string& out) {
  const nlohmann::json s = nlohmann::json::parse("\"" + quoted_body + "\"", nullptr, false);
  if (!s.is_string()) return false;
  out = s.get<std::string>();
  return true;
}

}  // namespace

void JsonCompactor::take(char b, std::string& out) {
  if (!begun_) {
    if (is_space(b)) return;
    begun_ = true;
    json_ = b == '{' || b == '[';
  }
  if (!json_) return out.push_back(b);
  if (in_string_) {
    out.push_back(b);
    if (escape_) escape_ = false;
    else if (b == '\\') escape_ = true;
    else if (b == '"') in_string_ = false;
    return;
  }
  if (is_space(b)) return;
  if (b == '"') in_string_ = true;
  out.push_back(b);
}

// One call's body read byte by byte, in the family's shape: what it has
// learnt of the current call (name, arguments so far) and where it stands.
class CallReader {
 public:
  enum class Step { kTaken, kCallEnd, kFailed };  // kFailed: the byte is not the body's

  explicit CallReader(CallShape shape) : shape_(shape) {}

  Step feed(char b) {
    switch (shape_) {
      case CallShape::kNamedObject: return named_object(b, true);
      case CallShape::kMistral: return mistral(b);
      case CallShape::kDeepSeek: return deepseek(b);
    }
    return Step::kFailed;
  }
  // The body holds no more calls.
  bool over() const { return over_; }
  // The call's name is known and its arguments have begun: it is a call.
  bool ready() const { return !name_.empty() && args_begun_; }
  const std::string& name() const { return name_; }
  const std::string& arguments() const { return args_; }
  // The text ended inside a call: whether it has a name (then its arguments
  // are what came, "{}" when none).
  bool end_early() {
    if (name_.empty()) return false;
    if (!args_begun_) args_ = "{}", args_begun_ = true;
    return true;
  }
  // After kCallEnd (or end_early): the next call of the list starts afresh.
  void next_call() {
    name_.clear(), args_.clear(), args_begun_ = false;
    object_ = {};
  }

 private:
  // {"name": ..., "arguments" | "parameters": ...}
  struct Object {
    enum class At { kStart, kKeyOrEnd, kKey, kColon, kValue, kName, kArgs, kArgsString, kArgsNull, kSkip, kSkipScalar, kAfter };
    At at = At::kStart;
    std::string key, text;  // the key being read; a string value's raw text
    ValueEnd end;
    JsonCompactor compact;
  };

  Step begin_args(char b) {
    args_begun_ = true;
    if (b == '"') {
      object_.text.clear(), object_.end = {}, object_.end.take(b);
      return object_.at = Object::At::kArgsString, Step::kTaken;
    }
    if (b == 'n') return object_.text = "n", object_.at = Object::At::kArgsNull, Step::kTaken;
    if (b != '{') return Step::kFailed;
    object_.at = Object::At::kArgs;
    object_.end = {};
    object_.end.take(b);
    object_.compact.take(b, args_);
    return Step::kTaken;
  }

  Step end_object() {
    if (name_.empty()) return Step::kFailed;
    if (!args_begun_) args_ = "{}", args_begun_ = true;
    if (top_object_) over_ = true;
    return Step::kCallEnd;
  }

  Step named_object(char b, bool top) {
    top_object_ = top;
    using At = Object::At;
    Object& o = object_;
    switch (o.at) {
      case At::kStart:
        if (is_space(b)) return Step::kTaken;
        return b == '{' ? (o.at = At::kKeyOrEnd, Step::kTaken) : Step::kFailed;
      case At::kKeyOrEnd:
        if (is_space(b)) return Step::kTaken;
        if (b == '}') return end_object();
        if (b != '"') return Step::kFailed;
        o.key.clear(), o.end = {}, o.end.take(b);
        return o.at = At::kKey, Step::kTaken;
      case At::kKey:
        if (o.end.take(b)) return o.at = At::kColon, Step::kTaken;
        o.key.push_back(b);
        return Step::kTaken;
      case At::kColon:
        if (is_space(b)) return Step::kTaken;
        return b == ':' ? (o.at = At::kValue, Step::kTaken) : Step::kFailed;
      case At::kValue:
        if (is_space(b)) return Step::kTaken;
        if (o.key == "name") {
          if (b != '"') return Step::kFailed;
          o.text.clear(), o.end = {}, o.end.take(b);
          return o.at = At::kName, Step::kTaken;
        }
        if (o.key == "arguments" || o.key == "parameters") return begin_args(b);
        o.end = {};
        if (b == '{' || b == '[' || b == '"') return o.end.take(b), o.at = At::kSkip, Step::kTaken;
        return o.at = At::kSkipScalar, Step::kTaken;
      case At::kName:
        if (!o.end.take(b)) return o.text.push_back(b), Step::kTaken;
        if (!decode_string(o.text, name_) || name_.empty()) return name_.clear(), Step::kFailed;
        return o.at = At::kAfter, Step::kTaken;
      case At::kArgs:
        o.compact.take(b, args_);
        if (o.end.take(b)) o.at = At::kAfter;
        return Step::kTaken;
      case At::kArgsString: {
        if (!o.end.take(b)) return o.text.push_back(b), Step::kTaken;
        // Some templates give the arguments as a string holding the object.
        std::string inner;
        if (!decode_string(o.text, inner) || !nlohmann::json::parse(inner, nullptr, false).is_object()) return Step::kFailed;
        JsonCompactor c;
        for (char x : inner) c.take(x, args_);
        return o.at = At::kAfter, Step::kTaken;
      }
      case At::kArgsNull:
        o.text.push_back(b);
        if (std::string_view("null").starts_with(o.text) && o.text.size() < 4) return Step::kTaken;
        if (o.text != "null") return Step::kFailed;
        args_ = "{}";
        return o.at = At::kAfter, Step::kTaken;
      case At::kSkip:
        if (o.end.take(b)) o.at = At::kAfter;
        return Step::kTaken;
      case At::kSkipScalar:
        if (b != ',' && b != '}' && !is_space(b)) return Step::kTaken;
        o.at = At::kAfter;
        return named_object(b, top);
      case At::kAfter:
        if (is_space(b)) return Step::kTaken;
        if (b == ',') return o.at = At::kKeyOrEnd, Step::kTaken;
        return b == '}' ? end_object() : Step::kFailed;
    }
    return Step::kFailed;
  }

  // [TOOL_CALLS] [{...}, ...] or [TOOL_CALLS]NAME[ARGS]{...}
  Step mistral(char b) {
    switch (mistral_) {
      case Mistral::kBegin:
        if (is_space(b)) return Step::kTaken;
        if (b == '[') return mistral_ = Mistral::kListItem, Step::kTaken;
        if (!name_char(b)) return Step::kFailed;
        name_.push_back(b);
        return mistral_ = Mistral::kName, Step::kTaken;
      case Mistral::kListItem:
        if (is_space(b)) return Step::kTaken;
        mistral_ = Mistral::kInItem;
        [[fallthrough]];
      case Mistral::kInItem: {
        const Step s = named_object(b, false);
        if (s == Step::kCallEnd) mistral_ = Mistral::kListAfter;
        return s;
      }
      case Mistral::kListAfter:
        if (is_space(b)) return Step::kTaken;
        if (b == ',') return mistral_ = Mistral::kListItem, Step::kTaken;
        return b == ']' ? (over_ = true, Step::kTaken) : Step::kFailed;
      case Mistral::kName:
        if (name_char(b)) return name_.push_back(b), Step::kTaken;
        return b == '[' ? (marker_ = 1, mistral_ = Mistral::kArgsMarker, Step::kTaken) : Step::kFailed;
      case Mistral::kArgsMarker: {
        constexpr std::string_view kArgs = "[ARGS]";
        if (b != kArgs[marker_]) return Step::kFailed;
        if (++marker_ == kArgs.size()) mistral_ = Mistral::kArgsValue;
        return Step::kTaken;
      }
      case Mistral::kArgsValue:
        return bare_arguments(b);
    }
    return Step::kFailed;
  }

  // Arguments after a name written outside JSON: one object, the call's end.
  Step bare_arguments(char b) {
    if (!args_begun_) {
      if (is_space(b)) return Step::kTaken;
      if (b != '{') return Step::kFailed;
      args_begun_ = true;
    }
    object_.compact.take(b, args_);
    if (!object_.end.take(b)) return Step::kTaken;
    over_ = true;
    return Step::kCallEnd;
  }

  // function<｜tool▁sep｜>NAME\n```json\n{...}\n```, or NAME<｜tool▁sep｜>{...}
  Step deepseek(char b) {
    constexpr std::string_view kSep = "<｜tool▁sep｜>";
    switch (deepseek_) {
      case DeepSeek::kLeft:
        left_.push_back(b);
        if (left_.size() > 256) return Step::kFailed;
        if (!left_.ends_with(kSep)) return Step::kTaken;
        left_.resize(left_.size() - kSep.size());
        if (trim(left_) == "function") return deepseek_ = DeepSeek::kName, Step::kTaken;
        name_ = std::string(trim(left_));
        if (name_.empty()) return Step::kFailed;
        return deepseek_ = DeepSeek::kArgs, Step::kTaken;
      case DeepSeek::kName:
        if (b != '\n') return name_.push_back(b), name_.size() > 256 ? Step::kFailed : Step::kTaken;
        name_ = std::string(trim(name_));
        if (name_.empty()) return Step::kFailed;
        return deepseek_ = DeepSeek::kFence, Step::kTaken;
      case DeepSeek::kFence:  // ```json before the object
        if (b == '{') return deepseek_ = DeepSeek::kArgs, bare_arguments(b);
        return std::string_view("`json \t\r\n").find(b) != std::string_view::npos ? Step::kTaken : Step::kFailed;
      case DeepSeek::kArgs:
        return bare_arguments(b);
    }
    return Step::kFailed;
  }

  static bool name_char(char b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_' || b == '-' || b == '.';
  }

  CallShape shape_;
  std::string name_, args_;
  bool args_begun_ = false, over_ = false, top_object_ = true;
  Object object_;
  enum class Mistral { kBegin, kListItem, kInItem, kListAfter, kName, kArgsMarker, kArgsValue } mistral_ = Mistral::kBegin;
  size_t marker_ = 0;
  enum class DeepSeek { kLeft, kName, kFence, kArgs } deepseek_ = DeepSeek::kLeft;
  std::string left_;
};

ToolCallParser::ToolCallParser(const ToolCallFormat& format) : format_(&format) {}
ToolCallParser::~ToolCallParser() = default;
ToolCallParser::ToolCallParser(ToolCallParser&&) noexcept = default;

// The call under way: its head once it is a call, then its new arguments;
// `ended`: the call is whole.
void ToolCallParser::flush_call(ToolCallPiece& out, bool ended) {
  if (!started_ && reader_->ready()) {
    out.deltas.push_back({.content_at = out.content.size(), .call = calls_, .name = reader_->name(), .arguments = ""});
    started_ = true;
  }
  if (!started_) return;
  const std::string& args = reader_->arguments();
  if (args.size() > sent_) {
    out.deltas.push_back({.content_at = out.content.size(), .call = calls_, .name = "", .arguments = args.substr(sent_)});
    sent_ = args.size();
  }
  if (!ended) return;
  out.calls.push_back({.name = reader_->name(), .arguments = args});
  ++calls_;
  started_ = false, sent_ = 0, any_call_ = true;
  reader_->next_call();
}

// A body that made no call is the text it was.
void ToolCallParser::give_back(ToolCallPiece& out) {
  const std::string_view open = format_->open;
  if (!open.starts_with('{')) out.content += open;  // else the open marker is the body's start
  out.content += raw_;
  raw_.clear();
}

void ToolCallParser::read_body(ToolCallPiece& out) {
  const std::string_view close = format_->close;
  const size_t close_at = close.empty() ? std::string::npos : pending_.find(close);
  const size_t avail = close_at != std::string::npos ? close_at
                       : close.empty() || at_end_   ? pending_.size()
                                                    : pending_.size() - possible_marker_start(pending_, {close});
  size_t i = 0;
  for (; i < avail; ++i) {
    const char b = pending_[i];
    const CallReader::Step s = reader_->feed(b);
    if (s == CallReader::Step::kTaken) {
      raw_.push_back(b);
      continue;
    }
    if (s == CallReader::Step::kCallEnd) {
      raw_.push_back(b);
      flush_call(out, true);
      if (!reader_->over()) continue;
      ++i;
    } else if (started_) {  // the rest is not the call's: it ends with what came
      flush_call(out, true);
    } else if (!any_call_) {  // no call: the text as it was, read again from this byte
      give_back(out);
      pending_.erase(0, i);
      state_ = State::kOutside;
      return;
    }
    pending_.erase(0, i);
    state_ = close.empty() ? State::kOutside : State::kToClose;
    return;
  }
  pending_.erase(0, i);
  flush_call(out, false);
  if (close_at == std::string::npos) return;
  // The close marker ends the body wherever the reader stands.
  if (started_ || reader_->end_early()) flush_call(out, true);
  else if (!any_call_) give_back(out), out.content += close;
  pending_.erase(0, close.size());
  state_ = State::kOutside;
}

void ToolCallParser::scan(ToolCallPiece& out) {
  const std::vector<std::string_view> markers = outside_markers(*format_);
  for (;;) {
    if (state_ == State::kOutside) {
      size_t at = std::string::npos;
      std::string_view found;
      for (std::string_view m : markers) {
        size_t p = pending_.find(m);
        if (p < at) at = p, found = m;
      }
      if (at == std::string::npos) {
        const size_t keep = at_end_ ? 0 : possible_marker_start(pending_, markers);
        out.content += pending_.substr(0, pending_.size() - keep);
        pending_.erase(0, pending_.size() - keep);
        return;
      }
      out.content += pending_.substr(0, at);
      // An open marker that begins with '{' is the call object's own start.
      const bool open = found == std::string_view(format_->open);
      pending_.erase(0, at + (open && found.starts_with('{') ? 0 : found.size()));
      if (!open) continue;
      state_ = State::kBody;
      reader_ = std::make_unique<CallReader>(format_->shape);
      raw_.clear();
      started_ = any_call_ = false;
      sent_ = 0;
      continue;
    }
    if (state_ == State::kBody) {
      read_body(out);
      if (state_ == State::kBody) return;  // needs more text
      continue;
    }
    // After a call, up to its close marker: nothing there is content.
    const std::string_view close = format_->close;
    const size_t end = pending_.find(close);
    if (end == std::string::npos) {
      pending_.erase(0, pending_.size() - possible_marker_start(pending_, {close}));
      return;
    }
    pending_.erase(0, end + close.size());
    state_ = State::kOutside;
  }
}

ToolCallPiece ToolCallParser::feed(std::string_view text) {
  pending_ += text;
  ToolCallPiece out;
  scan(out);
  return out;
}

ToolCallPiece ToolCallParser::finish() {
  // No more text: nothing is held back for a marker that cannot come.
  at_end_ = true;
  ToolCallPiece out;
  scan(out);
  if (state_ == State::kBody) {
    if (started_ || reader_->end_early()) flush_call(out, true);
    else if (!any_call_) give_back(out);
  }
  pending_.clear();
  state_ = State::kOutside;
  at_end_ = false;
  return out;
}

bool HarmonyCallReader::feed(const tokenizer::HarmonyPiece& piece, ToolCallPiece& out) {
  constexpr std::string_view kFunctions = "functions.";
  if (!piece.recipient.starts_with(kFunctions)) return false;
  if (!open_) {
    open_ = true;
    name_ = piece.recipient.substr(kFunctions.size());
    arguments_.clear(), sent_ = 0, compact_ = {};
    out.deltas.push_back({.content_at = 0, .call = calls_, .name = name_, .arguments = ""});
  }
  for (char b : piece.text) compact_.take(b, arguments_);
  if (piece.end && arguments_.empty()) arguments_ = "{}";
  if (arguments_.size() > sent_) {
    out.deltas.push_back({.content_at = 0, .call = calls_, .name = "", .arguments = arguments_.substr(sent_)});
    sent_ = arguments_.size();
  }
  if (piece.end) {
    out.calls.push_back({.name = name_, .arguments = arguments_});
    open_ = false;
    ++calls_;
  }
  return true;
}

ToolCallPiece parse_tool_calls(const ToolCallFormat& format, std::string_view text) {
  ToolCallParser p(format);
  ToolCallPiece out = p.feed(text);
  ToolCallPiece rest = p.finish();
  for (ToolCallDelta& d : rest.deltas) d.content_at += out.content.size(), out.deltas.push_back(std::move(d));
  out.content += rest.content;
  for (ToolCall& c : rest.calls) out.calls.push_back(std::move(c));
  return out;
}

}  // namespace frugal::server
