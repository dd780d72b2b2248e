// The harmony stream parser: a small state machine over the markers
// <|start|>, <|channel|>, <|message|>, <|end|>, <|return|> and <|call|>.
#include "tokenizer/harmony.h"

#include "tokenizer/tokenizer.h"

#include <array>

namespace frugal::tokenizer {
namespace {

constexpr std::string_view kStart = "<|start|>", kChannel = "<|channel|>", kMessage = "<|message|>";
constexpr std::string_view kEnd = "<|end|>", kReturn = "<|return|>", kCall = "<|call|>";
constexpr std::array<std::string_view, 3> kContentEnds = {kEnd, kReturn, kCall};

// Bytes at the end of s that could begin a marker ("<", "<|", "<|en", ...):
// they are held back until the next text says whether they are one.
size_t partial_marker_tail(std::string_view s) {
  const size_t from = s.size() > 10 ? s.size() - 10 : 0;
  for (size_t i = from; i < s.size(); ++i) {
    if (s[i] != '<') continue;
    const std::string_view tail = s.substr(i);
    for (std::string_view m : {kStart, kChannel, kMessage, kEnd, kReturn, kCall})
      if (m.size() > tail.size() && m.substr(0, tail.size()) == tail) return s.size() - i;
  }
  return 0;
}

}  // namespace

void HarmonyParser::emit(std::vector<HarmonyPiece>& out, std::string text, bool end) {
  if (text.empty() && !end) return;
  out.push_back({channel_, recipient_, std::move(text), end});
}

// The header between <|start|> (or the answer's beginning) and <|message|>:
// "assistant<|channel|>commentary to=functions.f <|constrain|>json".
void HarmonyParser::parse_header() {
  const std::string_view h = pending_;
  channel_.clear();
  recipient_.clear();
  if (const size_t c = h.find(kChannel); c != std::string_view::npos) {
    const size_t b = c + kChannel.size();
    const size_t e = h.find_first_of(" <", b);
    channel_ = std::string(h.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
  }
  if (const size_t t = h.find("to="); t != std::string_view::npos) {
    const size_t b = t + 3;
    const size_t e = h.find_first_of(" <", b);
    recipient_ = std::string(h.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
  }
  if (channel_.empty()) channel_ = "final";
}

std::vector<HarmonyPiece> HarmonyParser::feed(std::string_view text) {
  std::vector<HarmonyPiece> out;
  pending_ += text;
  for (;;) {
    switch (state_) {
      case State::kDone:
        pending_.clear();
        return out;
      case State::kStart:
      case State::kBetween: {
        // A header begins with <|start|> or <|channel|>; plain text at the
        // answer's beginning is the final channel.
        const std::string_view p = pending_;
        if (p.empty()) return out;
        const bool start = p.substr(0, kStart.size()) == kStart, chan = p.substr(0, kChannel.size()) == kChannel;
        if (start || chan) {
          if (start) pending_.erase(0, kStart.size());
          state_ = State::kHeader;
          continue;
        }
        if (kStart.substr(0, p.size()) == p || kChannel.substr(0, p.size()) == p) return out;  // undecided
        // Text where a header should be: the model left the format; keep
        // it as final content rather than lose it.
        channel_ = "final";
        recipient_.clear();
        state_ = State::kContent;
        continue;
      }
      case State::kHeader: {
        const size_t m = pending_.find(kMessage);
        if (m == std::string::npos) return out;
        const std::string rest = pending_.substr(m + kMessage.size());
        pending_.resize(m);
        parse_header();
        pending_ = rest;
        state_ = State::kContent;
        continue;
      }
      case State::kContent: {
        size_t at = std::string::npos;
        std::string_view which;
        for (std::string_view e : kContentEnds) {
          const size_t f = pending_.find(e);
          if (f < at) {
            at = f;
            which = e;
          }
        }
        if (at == std::string::npos) {
          const size_t keep = partial_marker_tail(pending_);
          emit(out, pending_.substr(0, pending_.size() - keep), false);
          pending_.erase(0, pending_.size() - keep);
          return out;
        }
        emit(out, pending_.substr(0, at), true);
        pending_.erase(0, at + which.size());
        state_ = which == kEnd ? State::kBetween : State::kDone;
        continue;
      }
    }
  }
}

std::vector<HarmonyPiece> HarmonyParser::finish() {
  std::vector<HarmonyPiece> out;
  if (state_ == State::kContent) emit(out, std::move(pending_), true);
  if (state_ == State::kStart && !pending_.empty()) {  // text too short to tell: it was plain text
    channel_ = "final";
    emit(out, std::move(pending_), true);
  }
  pending_.clear();
  state_ = State::kDone;
  return out;
}

bool speaks_harmony(const Tokenizer& tok) {
  for (std::string_view marker : {kChannel, kMessage})
    if (tok.encode(marker, false, true).size() != 1) return false;
  return true;
}

const std::vector<std::string>& harmony_stops() {
  static const std::vector<std::string> stops = {std::string(kReturn), std::string(kCall), "<|endoftext|>"};
  return stops;
}

HarmonyAnswer parse_harmony(std::string_view text) {
  HarmonyParser p;
  std::vector<HarmonyPiece> pieces = p.feed(text);
  for (auto& piece : p.finish()) pieces.push_back(std::move(piece));
  HarmonyAnswer a;
  HarmonyPiece call;
  for (const HarmonyPiece& piece : pieces) {
    if (!piece.recipient.empty()) {
      call.channel = piece.channel;
      call.recipient = piece.recipient;
      call.text += piece.text;
      if (piece.end) {
        call.end = true;
        a.tool_calls.push_back(std::move(call));
        call = {};
      }
    } else if (piece.channel == "analysis") {
      a.analysis += piece.text;
    } else if (piece.channel == "final") {
      a.final_text += piece.text;
    }
  }
  return a;
}

}  // namespace frugal::tokenizer
