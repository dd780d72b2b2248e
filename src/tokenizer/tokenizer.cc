// Tokenizer: vocabulary from GGUF metadata, special-token splitting, then
// SentencePiece-style bigram merging ("llama") or byte-level BPE ("gpt2").
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "base/error.h"
#include "base/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalize.h"
#include "tokenizer/pair_merge.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/special_matcher.h"

namespace frugal::tokenizer {

struct TokenizerImpl {
  bool is_spm = false;
  std::vector<std::string> pieces;
  std::vector<int32_t> types;
  std::vector<float> scores;
  std::unordered_map<std::string, int32_t> piece_to_id;
  std::unordered_map<std::string, int32_t> merge_rank;  // "left right" -> rank
  // The merges whose two sides are tokens, by their ids: rank and the id of
  // the merged piece (-1 when it is no token). Two integers hash and compare
  // much faster than the text, which is what long pieces spend their time on.
  struct IdMerge {
    int32_t rank, result;
  };
  std::unordered_map<uint64_t, IdMerge> merge_by_ids;
  bool every_merge_by_ids = true;  // false: a merge line with several spaces, found by text only
  SpecialMatcher specials;                              // control/user-defined, split out before BPE
  std::vector<int32_t> end_ids;
  int32_t bos = -1, eos = -1, unk = -1;
  bool add_bos = false, add_space_prefix = true;
  bool ignore_merges = false;  // byte-level BPE: whole-word tokens win (llama3, o200k)
  Normalization normalization = Normalization::kNone;  // applied to text between special tokens
  std::unique_ptr<PreTokenizer> pre;
  int32_t byte_token[256];
};

namespace {

size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 6) return 2;
  if ((c >> 4) == 14) return 3;
  if ((c >> 3) == 30) return 4;
  return 1;  // stray continuation / invalid lead byte: one byte on its own
}

// Decodes a UTF-8 string into code points (invalid bytes pass as themselves).
std::vector<uint32_t> code_points(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = std::min(utf8_len(c), s.size() - i);
    uint32_t cp = n == 1 ? c : (c & (0xFF >> (n + 1)));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

int32_t id_of(const TokenizerImpl& t, const std::string& piece) {
  auto it = t.piece_to_id.find(piece);
  return it == t.piece_to_id.end() ? -1 : it->second;
}

uint64_t id_pair(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

// The merge of two symbols: by their ids when both are tokens, else by their
// text ("left right"). `merged` is the id of the joined piece (-1: no token).
bool find_merge(const TokenizerImpl& t, std::string_view left, int32_t lt, std::string_view right, int32_t rt,
                std::string& scratch, int32_t& rank, int32_t& merged) {
  if (lt >= 0 && rt >= 0) {
    auto it = t.merge_by_ids.find(id_pair(lt, rt));
    if (it != t.merge_by_ids.end()) {
      rank = it->second.rank;
      merged = it->second.result;
      return true;
    }
    if (t.every_merge_by_ids) return false;
  }
  scratch.assign(left);
  scratch += ' ';
  scratch += right;
  auto it = t.merge_rank.find(scratch);
  if (it == t.merge_rank.end()) return false;
  rank = it->second;
  scratch.assign(left);
  scratch += right;
  merged = id_of(t, scratch);
  return true;
}

// Byte-level BPE of one pre-token: the lowest-rank adjacent pair merges first
// (the leftmost among equals), whether or not the result is a token.
void bpe_word(const TokenizerImpl& t, std::string_view word, std::vector<int32_t>& out) {
  const ByteMap& bm = byte_map();
  std::string whole;
  for (unsigned char c : word) whole += bm.byte_to_utf8[c];
  if (t.ignore_merges) {  // a word that is a token is taken whole
    int32_t id = id_of(t, whole);
    if (id >= 0) { out.push_back(id); return; }
  }
  // A symbol starts as one byte's character: its token is that byte's.
  const auto byte_token_of = [&](std::string_view ch) {
    uint32_t cp = uint8_t(ch[0]);
    if (ch.size() == 2) cp = ((cp & 0x1F) << 6) | (uint8_t(ch[1]) & 0x3F);
    auto b = bm.cp_to_byte.find(cp);
    return b == bm.cp_to_byte.end() ? -1 : t.byte_token[b->second];
  };
  std::string scratch;  // reused: one allocation per word, not per pair
  PairMemo memo;
  const auto rank_of = [&](std::string_view left, int32_t lt, std::string_view right, int32_t rt, uint32_t& order,
                           int32_t& merged) {
    return memo.find_or(lt, rt, order, merged, [&](uint32_t& o, int32_t& m) {
      int32_t rank = 0;
      if (!find_merge(t, left, lt, right, rt, scratch, rank, m)) return false;
      o = uint32_t(rank);
      return true;
    });
  };
  std::string p;
  for (const Span& s : merge_pairs(whole, byte_token_of, rank_of)) {
    if (s.tag >= 0) { out.push_back(s.tag); continue; }
    p.assign(whole, s.offset, s.length);
    // Not in the vocabulary: fall back to the single-byte tokens it is made of.
    for (uint32_t cp : code_points(p)) {
      auto b = bm.cp_to_byte.find(cp);
      int32_t bid = b == bm.cp_to_byte.end() ? -1 : t.byte_token[b->second];
      if (bid < 0) fail("tokenizer: no token for a byte of '", p, "' (vocabulary lacks byte tokens)");
      out.push_back(bid);
    }
  }
}

// SentencePiece-style: start from UTF-8 characters, repeatedly merge the
// adjacent pair whose joined piece has the highest score; unknown pieces fall
// back to <0xXX> byte tokens.
void spm_text(const TokenizerImpl& t, std::string_view text, std::vector<int32_t>& out) {
  std::string piece;  // reused across pairs
  std::string last_char;  // a one-entry memo: runs of one character look it up once
  int32_t last_id = -1;
  const auto token_of = [&](std::string_view ch) {
    if (ch != last_char) {
      last_char.assign(ch);
      last_id = id_of(t, last_char);
    }
    return last_id;
  };
  PairMemo memo;
  const auto score_of = [&](std::string_view left, int32_t lt, std::string_view right, int32_t rt, uint32_t& order,
                            int32_t& merged) {
    return memo.find_or(lt, rt, order, merged, [&](uint32_t& o, int32_t& m) {
      if (!t.merge_rank.empty()) {
        // Merges given (imported BPE vocabularies): merge order is the priority,
        // and the merged piece must be a token.
        int32_t rank = 0;
        if (!find_merge(t, left, lt, right, rt, piece, rank, m) || m < 0) return false;
        o = uint32_t(rank);
        return true;
      }
      piece.assign(left);
      piece += right;
      m = id_of(t, piece);
      if (m < 0) return false;
      o = order_of_score(t.scores[size_t(m)]);
      return true;
    });
  };
  for (const Span& s : merge_pairs(text, token_of, score_of)) {
    if (s.tag >= 0) { out.push_back(s.tag); continue; }
    piece.assign(text.substr(s.offset, s.length));
    for (unsigned char c : piece) {
      if (t.byte_token[c] >= 0) out.push_back(t.byte_token[c]);
      else if (t.unk >= 0) out.push_back(t.unk);
      else fail("tokenizer: no token for byte ", int(c), " and no unknown token");
    }
  }
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_metadata(const gguf::Metadata& md) {
  auto t = std::make_unique<TokenizerImpl>();
  std::string model = md.get_string("tokenizer.ggml.model");
  if (model == "llama") t->is_spm = true;
  else if (model != "gpt2") fail("tokenizer: tokenizer.ggml.model '", model, "' is not supported (llama, gpt2)");
  t->pieces = md.get_string_array("tokenizer.ggml.tokens");
  const size_t n = t->pieces.size();
  if (n == 0) fail("tokenizer: tokenizer.ggml.tokens is empty");
  t->types.assign(n, int32_t(TokenType::NORMAL));
  if (md.has("tokenizer.ggml.token_type")) {
    auto ty = md.get_int_array("tokenizer.ggml.token_type");
    if (ty.size() != n) fail("tokenizer: tokenizer.ggml.token_type has ", ty.size(), " entries, tokens has ", n);
    for (size_t i = 0; i < n; ++i) t->types[i] = int32_t(ty[i]);
  }
  t->scores.assign(n, 0.0f);
  if (md.has("tokenizer.ggml.scores")) {
    auto sc = md.get_float_array("tokenizer.ggml.scores");
    if (sc.size() != n) fail("tokenizer: tokenizer.ggml.scores has ", sc.size(), " entries, tokens has ", n);
    for (size_t i = 0; i < n; ++i) t->scores[i] = float(sc[i]);
  }
  for (size_t i = 0; i < n; ++i) t->piece_to_id.emplace(t->pieces[i], int32_t(i));
  std::fill(std::begin(t->byte_token), std::end(t->byte_token), -1);
  if (t->is_spm) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& p = t->pieces[i];
      if (t->types[i] == int32_t(TokenType::BYTE) && p.size() == 6 && p.rfind("<0x", 0) == 0)
        t->byte_token[std::stoi(p.substr(3, 2), nullptr, 16)] = int32_t(i);
      if (t->types[i] == int32_t(TokenType::UNKNOWN)) t->unk = int32_t(i);
    }
    t->add_space_prefix = md.get_bool_or("tokenizer.ggml.add_space_prefix", true);
  } else {
    for (int b = 0; b < 256; ++b) t->byte_token[b] = id_of(*t, byte_map().byte_to_utf8[b]);
    std::string pre = md.get_string_or("tokenizer.ggml.pre", "default");
    t->pre = make_pretokenizer(pre);
    t->ignore_merges = pre == "llama3" || pre == "llama-bpe" || pre == "gpt-4o" || pre == "o200k";
  }
  if (md.has("tokenizer.ggml.merges")) {
    auto merges = md.get_string_array("tokenizer.ggml.merges");
    for (size_t r = 0; r < merges.size(); ++r) {
      const std::string& m = merges[r];
      t->merge_rank.emplace(m, int32_t(r));
      const size_t space = m.find(' ');
      if (space == std::string::npos) continue;
      if (m.find(' ', space + 1) != std::string::npos) {  // which space splits it is known only from the text
        t->every_merge_by_ids = false;
        continue;
      }
      const int32_t a = id_of(*t, m.substr(0, space)), b = id_of(*t, m.substr(space + 1));
      if (a >= 0 && b >= 0)
        t->merge_by_ids.emplace(id_pair(a, b), TokenizerImpl::IdMerge{int32_t(r), id_of(*t, m.substr(0, space) + m.substr(space + 1))});
    }
  }
  auto id_key = [&](const char* key) -> int32_t {
    if (!md.has(key)) return -1;
    uint64_t v = md.get_uint(key);
    if (v >= n) fail("tokenizer: ", key, " = ", v, " is outside the vocabulary of ", n);
    return int32_t(v);
  };
  t->bos = id_key("tokenizer.ggml.bos_token_id");
  t->eos = id_key("tokenizer.ggml.eos_token_id");
  if (t->unk < 0) t->unk = id_key("tokenizer.ggml.unknown_token_id");
  for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int32_t id = id_key(k);
    if (id >= 0) t->end_ids.push_back(id);
  }
  for (const char* p : {"<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "<|return|>", "<end_of_turn>"}) {
    int32_t id = id_of(*t, p);
    if (id >= 0 && t->types[id] == int32_t(TokenType::CONTROL)) t->end_ids.push_back(id);
  }
  t->add_bos = md.get_bool_or("tokenizer.ggml.add_bos_token", t->is_spm);
  t->normalization = parse_normalization(md.get_string_or("tokenizer.ggml.normalizer", ""));
  for (size_t i = 0; i < n; ++i)
    if (t->types[i] == int32_t(TokenType::CONTROL) || t->types[i] == int32_t(TokenType::USER_DEFINED) ||
        t->types[i] == int32_t(TokenType::UNKNOWN))
      t->specials.add(t->pieces[i], int32_t(i));  // the longest match wins; equal texts: the lowest id
  return Tokenizer(std::move(t));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  const TokenizerImpl& t = *impl_;
  std::vector<int32_t> out;
  if (add_bos) {
    if (t.bos < 0) fail("tokenizer: a BOS token was asked for but the vocabulary has none");
    out.push_back(t.bos);
  }
  auto encode_fragment = [&](std::string_view raw_frag) {
    if (raw_frag.empty()) return;
    // Special tokens are never normalised; the text between them is (as Hugging Face does).
    const std::string normalized = normalize(raw_frag, t.normalization);
    const std::string_view frag = t.normalization == Normalization::kNone ? raw_frag : std::string_view(normalized);
    if (t.is_spm) {
      // Every text fragment (at the start or after a special token) gets the
      // SentencePiece space prefix, as Hugging Face and llama.cpp both do.
      std::string s;
      if (t.add_space_prefix) s += ' ';
      s += frag;
      std::string esc;
      for (char c : s) { if (c == ' ') esc += "\xE2\x96\x81"; else esc += c; }
      spm_text(t, esc, out);
    } else {
      for (std::string_view w : t.pre->split(frag)) bpe_word(t, w, out);
    }
  };
  size_t start = 0, i = 0;
  while (parse_special && i < text.size()) {
    const auto [hit, length] = t.specials.match(text, i);
    if (hit < 0) { ++i; continue; }
    encode_fragment(text.substr(start, i - start));
    out.push_back(hit);
    i += length;
    start = i;
  }
  encode_fragment(text.substr(start));
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const TokenizerImpl& t = *impl_;
  if (id < 0 || id >= n_vocab()) fail("tokenizer: token id ", id, " is outside the vocabulary of ", n_vocab());
  const std::string& p = t.pieces[id];
  int32_t ty = t.types[id];
  if (ty == int32_t(TokenType::CONTROL) || ty == int32_t(TokenType::USER_DEFINED) || ty == int32_t(TokenType::UNUSED) ||
      ty == int32_t(TokenType::UNKNOWN))
    return p;
  if (t.is_spm) {
    if (ty == int32_t(TokenType::BYTE) && p.size() == 6) return std::string(1, char(std::stoi(p.substr(3, 2), nullptr, 16)));
    std::string s;
    for (size_t k = 0; k < p.size();) {
      if (p.compare(k, 3, "\xE2\x96\x81") == 0) { s += ' '; k += 3; } else s += p[k++];
    }
    return s;
  }
  std::string s;
  for (uint32_t cp : code_points(p)) {
    auto b = byte_map().cp_to_byte.find(cp);
    if (b == byte_map().cp_to_byte.end()) return p;  // not a byte-level piece: as written
    s += char(b->second);
  }
  return s;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string s;
  for (int32_t id : ids) s += token_bytes(id);
  // The space SentencePiece put in front of the text is not part of it
  // (one leading space of the whole output, as Hugging Face's decoder strips).
  if (impl_->is_spm && impl_->add_space_prefix && !s.empty() && s[0] == ' ') s.erase(0, 1);
  return s;
}

std::string Tokenizer::token_piece(int32_t id) const {
  if (id < 0 || id >= n_vocab()) fail("tokenizer: token id ", id, " is outside the vocabulary of ", n_vocab());
  return impl_->pieces[id];
}
int32_t Tokenizer::n_vocab() const { return int32_t(impl_->pieces.size()); }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
bool Tokenizer::add_bos_default() const { return impl_->add_bos; }
bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::find(impl_->end_ids.begin(), impl_->end_ids.end(), id) != impl_->end_ids.end();
}

StreamDecoder::StreamDecoder(const Tokenizer& tok) : tok_(tok) {}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_bytes(id);
  return take_valid_utf8(pending_, false);
}

std::string StreamDecoder::flush() { return take_valid_utf8(pending_, true); }

}  // namespace frugal::tokenizer
