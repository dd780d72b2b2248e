#include "runtime/token_constraint.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "base/utf8.h"

namespace frugal::runtime {

using tokenizer::TokenType;

TokenTrie::TokenTrie(const tokenizer::Tokenizer& tok, const gguf::Metadata& md) : n_vocab_(tok.n_vocab()) {
  bytes_.resize(static_cast<size_t>(n_vocab_));
  text_.assign(static_cast<size_t>(n_vocab_), 0);
  std::vector<int64_t> types;
  if (md.has("tokenizer.ggml.token_type")) types = md.get_int_array("tokenizer.ggml.token_type");
  std::vector<int32_t> order;
  for (int32_t id = 0; id < n_vocab_; ++id) {
    if (tok.is_end_of_generation(id)) eog_.push_back(id);
    const auto t = static_cast<size_t>(id) < types.size() ? static_cast<TokenType>(types[static_cast<size_t>(id)])
                                                          : TokenType::NORMAL;
    if (t == TokenType::CONTROL || t == TokenType::USER_DEFINED || t == TokenType::UNKNOWN || t == TokenType::UNUSED) {
      bytes_[static_cast<size_t>(id)] = tok.token_bytes(id);
      continue;
    }
    std::string b = tok.token_bytes(id);
    if (b.empty()) continue;
    bytes_[static_cast<size_t>(id)] = std::move(b);
    text_[static_cast<size_t>(id)] = 1;
    order.push_back(id);
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return bytes(a) < bytes(b); });
  plain_.assign(static_cast<size_t>(n_vocab_), 0);
  std::vector<int32_t> others;
  for (int32_t id : order) {
    const std::string& b = bytes(id);
    int64_t chars = 0;
    bool plain = true;
    for (size_t i = 0; i < b.size() && plain; ++chars) {
      const size_t n = utf8_char_len(b, i);
      plain = n > 0 && b[i] != '"' && b[i] != '\\' && static_cast<uint8_t>(b[i]) >= 0x20;
      i += n;
    }
    if (plain) {
      plain_[static_cast<size_t>(id)] = 1;
      max_plain_chars_ = std::max(max_plain_chars_, chars);
    } else {
      others.push_back(id);
    }
  }
  all_ = build(order);
  others_ = build(others);
}

// Sorted by bytes, each node's tokens and children are contiguous runs of
// `sorted`: nodes are laid out breadth first from ranges of it.
TokenTrie::Trie TokenTrie::build(const std::vector<int32_t>& sorted) const {
  Trie t;
  struct Range {
    size_t begin, end, depth;
  };
  std::vector<Range> ranges{{0, sorted.size(), 0}};
  t.nodes.push_back({});
  for (size_t n = 0; n < t.nodes.size(); ++n) {
    const Range r = ranges[n];
    size_t i = r.begin;
    // Tokens that end here sort first (a prefix sorts before its extensions).
    t.nodes[n].first_token = static_cast<uint32_t>(t.ids.size());
    while (i < r.end && bytes(sorted[i]).size() == r.depth) t.ids.push_back(sorted[i++]);
    t.nodes[n].n_tokens = static_cast<uint32_t>(t.ids.size()) - t.nodes[n].first_token;
    t.nodes[n].first_child = static_cast<uint32_t>(t.nodes.size());
    while (i < r.end) {
      const uint8_t b = static_cast<uint8_t>(bytes(sorted[i])[r.depth]);
      size_t j = i;
      while (j < r.end && static_cast<uint8_t>(bytes(sorted[j])[r.depth]) == b) ++j;
      t.nodes.push_back({.byte = b});
      ranges.push_back({i, j, r.depth + 1});
      i = j;
    }
    t.nodes[n].n_children = static_cast<uint32_t>(t.nodes.size()) - t.nodes[n].first_child;
  }
  return t;
}

std::shared_ptr<const TokenTrie> LazyTokenTrie::get() {
  std::call_once(once_, [this] { trie_ = std::make_shared<const TokenTrie>(tok_, md_); });
  return trie_;
}

TokenConstraint::TokenConstraint(std::shared_ptr<const JsonGrammar> grammar, std::shared_ptr<const TokenTrie> trie)
    : grammar_(std::move(grammar)), trie_(std::move(trie)), m_(*grammar_),
      lead_(grammar_->lead_ins.empty() ? kLeadDone : 0) {}

bool TokenConstraint::lead_takes(const std::string& bytes, JsonMatcher& m, std::string& matched) const {
  if (bytes.empty()) return false;
  const std::string text = lead_text_ + bytes;
  const JsonGrammar& g = *grammar_;
  for (size_t k = 0; k < g.lead_ins.size(); ++k) {
    const std::string& lead = g.lead_ins[k];
    if (lead.starts_with(text)) return matched = text, true;
    if (!text.starts_with(lead)) continue;
    JsonMatcher t(k < g.lead_in_values.size() && g.lead_in_values[k] ? *g.lead_in_values[k] : g);
    if (!t.feed(std::string_view(text).substr(lead.size()))) continue;
    m.assign(t);
    matched = lead;
    return true;
  }
  return false;
}

bool TokenConstraint::allows(int32_t id) const {
  if (id < 0 || id >= trie_->n_vocab()) return false;
  if (lead_ != kLeadDone) {
    JsonMatcher m(*grammar_);
    std::string matched;
    return lead_takes(trie_->bytes(id), m, matched);
  }
  if (!trie_->has_text(id)) {
    const auto& eog = trie_->end_of_generation();
    return m_.complete() && std::find(eog.begin(), eog.end(), id) != eog.end();
  }
  JsonMatcher t(*grammar_);
  t.assign(m_);
  return t.feed(trie_->bytes(id));
}

void TokenConstraint::walk(const TokenTrie::Trie& t, uint32_t node, int depth, std::vector<uint8_t>& allowed) {
  const TokenTrie::Node& n = t.nodes[node];
  if (states_.size() <= static_cast<size_t>(depth + 1)) states_.resize(static_cast<size_t>(depth + 2), JsonMatcher(*grammar_));
  for (uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c) {
    const TokenTrie::Node& child = t.nodes[c];
    JsonMatcher& s = states_[static_cast<size_t>(depth + 1)];
    s.assign(states_[static_cast<size_t>(depth)]);
    if (!s.feed(child.byte)) continue;
    for (uint32_t k = child.first_token; k < child.first_token + child.n_tokens; ++k)
      allowed[static_cast<size_t>(t.ids[k])] = 1;
    if (child.n_children > 0) walk(t, c, depth + 1, allowed);
  }
}

void TokenConstraint::mask(std::vector<uint8_t>& allowed) {
  if (lead_ != kLeadDone) {
    // A few steps of a short text: every token is tried.
    allowed.assign(static_cast<size_t>(trie_->n_vocab()), 0);
    for (int32_t id = 0; id < trie_->n_vocab(); ++id) allowed[static_cast<size_t>(id)] = allows(id) ? 1 : 0;
    if (std::find(allowed.begin(), allowed.end(), 1) == allowed.end())
      fail("structured output: no token of the vocabulary can spell the text before the value");
    return;
  }
  if (states_.empty()) states_.resize(1, JsonMatcher(*grammar_));
  states_[0].assign(m_);
  int64_t room = 0;
  if (m_.in_string_text(room) && room >= trie_->max_plain_chars()) {
    // Inside a string with room for any plain token: those all go on, and
    // only the others (quotes, escapes, control and partial characters) are tried.
    allowed = trie_->plain_mask();
    walk(trie_->others(), 0, 0, allowed);
  } else {
    allowed.assign(static_cast<size_t>(trie_->n_vocab()), 0);
    walk(trie_->all(), 0, 0, allowed);
  }
  bool any = false;
  if (m_.complete())
    for (int32_t id : trie_->end_of_generation()) allowed[static_cast<size_t>(id)] = 1, any = true;
  any = any || std::find(allowed.begin(), allowed.end(), 1) != allowed.end();
  if (!any)
    fail("structured output: no token of the vocabulary can continue the JSON (the schema nests deeper than ",
         JsonMatcher::kMaxDepth, " levels, or the vocabulary lacks the characters it needs)");
}

void TokenConstraint::accept(int32_t id) {
  if (lead_ != kLeadDone) {
    JsonMatcher m(*grammar_);
    std::string matched;
    if (!lead_takes(trie_->bytes(id), m, matched)) fail("structured output: token ", id, " does not continue the text before the value");
    const size_t len = lead_text_.size() + trie_->bytes(id).size();
    const auto& leads = grammar_->lead_ins;
    const auto whole = std::find(leads.begin(), leads.end(), matched);
    if (matched.size() < len) {
      m_.assign(m);  // the token ran on into the value
      lead_ = kLeadDone;
    } else if (whole != leads.end()) {
      // The value's grammar after this lead-in, from its start.
      const size_t k = static_cast<size_t>(whole - leads.begin());
      const auto& values = grammar_->lead_in_values;
      m_.assign(JsonMatcher(k < values.size() && values[k] ? *values[k] : *grammar_));
      lead_ = kLeadDone;
    } else {
      lead_text_ = matched;
    }
    return;
  }
  if (!trie_->has_text(id)) return;  // the end of generation
  if (!m_.feed(trie_->bytes(id))) fail("structured output: token ", id, " does not continue the JSON");
}

}  // namespace frugal::runtime
