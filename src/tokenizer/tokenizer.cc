// Tokenizer: vocabulary from GGUF metadata, special-token splitting, then
// SentencePiece-style bigram merging ("llama") or byte-level BPE ("gpt2").
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <climits>
#include <unordered_map>

#include "base/error.h"
#include "base/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalize.h"
#include "tokenizer/pair_merge.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/special_matcher.h"
#include "tokenizer/token_tables.h"

namespace frugal::tokenizer {

struct TokenizerImpl {
  bool is_spm = false;
  std::vector<std::string> pieces;
  std::vector<int32_t> types;
  std::vector<float> scores;
  StringIndex piece_index;  // piece text -> id
  // Byte-level BPE: the bytes a piece stands for -> id, so that a word is
  // looked up whole as it is, without spelling it in the byte alphabet first.
  StringIndex raw_index;
  // Which adjacent tokens merge, by their two ids: from the merge lines
  // (BPE, SentencePiece with merges), or from the vocabulary's ways of
  // cutting a token in two (SentencePiece by scores).
  PairTable pairs;
  bool has_merges = false;
  // Some pair can be found only by its text (a merge line with several
  // spaces, or one with a side that is no token; a character outside the
  // vocabulary inside a SentencePiece token). When false, a pair with a side
  // that is no token never merges and no text is ever built.
  bool pairs_by_text = false;
  std::unordered_map<std::string, int32_t> merge_rank;  // "left right" -> rank, kept when pairs_by_text
  SpecialMatcher specials;                              // control/user-defined, split out before BPE
  std::vector<int32_t> end_ids;
  int32_t bos = -1, eos = -1, unk = -1;
  bool add_bos = false, add_space_prefix = true;
  bool ignore_merges = false;  // byte-level BPE: whole-word tokens win (llama3, o200k)
  Normalization normalization = Normalization::kNone;  // applied to text between special tokens
  std::unique_ptr<PreTokenizer> pre;
  // Byte-level BPE: the answer for every pair of two one-byte symbols, by
  // the two bytes (65,536 entries; result kNoMerge: they do not merge). The
  // first merges of every word are of such pairs, and in random bytes nearly
  // all are: a table that stays in cache instead of a probe of `pairs`.
  std::vector<PairMerge> byte_pairs;
  int32_t byte_token[256];   // byte -> its byte token (<0xXX>, or the byte's character in byte-level BPE)
  int32_t single_byte[256];  // SentencePiece: the one-byte piece -> id
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

int32_t id_of(const TokenizerImpl& t, std::string_view piece) { return t.piece_index.find(piece); }

// The length of the merge loop's starting symbol at text[i]: a character, or
// one byte that belongs to none.
size_t symbol_len(std::string_view text, size_t i) {
  if (uint8_t(text[i]) < 0x80) return 1;
  const size_t n = utf8_char_len(text, i);
  return n ? n : 1;
}

// What one encode call reuses from word to word.
struct Workspace {
  PairMerger merger;
  std::string scratch, joined;
};

// A merge found by the text of its two sides ("left right" in the merge
// lines); `merged` is the id of the joined piece (-1: no token).
bool merge_by_text(const TokenizerImpl& t, std::string_view left, std::string_view right, Workspace& ws,
                   uint32_t& order, int32_t& merged) {
  ws.scratch.assign(left);
  ws.scratch += ' ';
  ws.scratch += right;
  auto it = t.merge_rank.find(ws.scratch);
  if (it == t.merge_rank.end()) return false;
  order = uint32_t(it->second);
  ws.joined.assign(left);
  ws.joined += right;
  merged = id_of(t, ws.joined);
  return true;
}

constexpr int32_t kNoMerge = INT32_MIN;

// Whether two adjacent symbols of a byte-level word merge (their bytes, and
// their ids or -1): by the ids where both are tokens, else by the text of
// the two in the byte alphabet (a space as 'Ġ') when some merge needs it.
bool bpe_pair(const TokenizerImpl& t, std::string_view left, int32_t lt, std::string_view right, int32_t rt,
              Workspace& ws, uint32_t& order, int32_t& merged) {
  if (lt >= 0 && rt >= 0) {
    if (const PairMerge* pm = t.pairs.find(lt, rt)) {
      order = pm->order;
      merged = pm->result;
      return true;
    }
  }
  if (!t.pairs_by_text) return false;
  return merge_by_text(t, bytes_to_piece(left), bytes_to_piece(right), ws, order, merged);
}

// Byte-level BPE of one pre-token: the lowest-rank adjacent pair merges first
// (the leftmost among equals), whether or not the result is a token. Symbols
// are the word's bytes.
void bpe_word(const TokenizerImpl& t, std::string_view word, Workspace& ws, std::vector<int32_t>& out) {
  if (word.size() == 1 && t.byte_token[uint8_t(word[0])] >= 0) {  // one byte: its own token, whole or merged
    out.push_back(t.byte_token[uint8_t(word[0])]);
    return;
  }
  if (t.ignore_merges) {  // a word that is a token is taken whole
    const int32_t id = t.raw_index.find(word);
    if (id >= 0) { out.push_back(id); return; }
  }
  PairMerger& m = ws.merger;
  m.start(word.size());
  for (size_t i = 0; i < word.size(); ++i) m.add(i, 1, t.byte_token[uint8_t(word[i])]);
  m.run([&](const MergeSymbol& l, const MergeSymbol& r, uint32_t& order, int32_t& merged) {
    if (l.length == 1 && r.length == 1) {
      const PairMerge& pm = t.byte_pairs[size_t(uint8_t(word[l.offset])) << 8 | uint8_t(word[r.offset])];
      order = pm.order;
      merged = pm.result;
      return merged != kNoMerge;
    }
    return bpe_pair(t, word.substr(l.offset, l.length), l.tag, word.substr(r.offset, r.length), r.tag, ws, order, merged);
  });
  m.for_each([&](const MergeSymbol& s) {
    if (s.tag >= 0) { out.push_back(s.tag); return; }
    // Not in the vocabulary: fall back to the single-byte tokens it is made of.
    for (size_t i = s.offset; i < s.offset + s.length; ++i) {
      const int32_t bid = t.byte_token[uint8_t(word[i])];
      if (bid < 0)
        fail("tokenizer: no token for a byte of '", bytes_to_piece(word.substr(s.offset, s.length)),
             "' (vocabulary lacks byte tokens)");
      out.push_back(bid);
    }
  });
}

// The byte-level answer for every pair of single bytes, computed once.
void fill_byte_pairs(TokenizerImpl& t) {
  Workspace ws;
  t.byte_pairs.resize(256 * 256);
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      const char l = char(a), r = char(b);
      PairMerge pm{.order = 0, .result = -1};
      if (!bpe_pair(t, std::string_view(&l, 1), t.byte_token[a], std::string_view(&r, 1), t.byte_token[b], ws, pm.order,
                    pm.result))
        pm.result = kNoMerge;
      t.byte_pairs[size_t(a) << 8 | size_t(b)] = pm;
    }
}

// SentencePiece-style: start from UTF-8 characters, repeatedly merge the
// adjacent pair whose joined piece merges first (the merge order, or the
// highest score); unknown pieces fall back to <0xXX> byte tokens.
void spm_text(const TokenizerImpl& t, std::string_view text, Workspace& ws, std::vector<int32_t>& out) {
  PairMerger& m = ws.merger;
  m.start(text.size());
  std::string_view last_char;  // a one-entry memo: a run of one character (spaces as "▁") looks it up once
  int32_t last_id = -1;
  for (size_t i = 0; i < text.size();) {
    const size_t n = symbol_len(text, i);
    if (n == 1) {
      m.add(i, 1, t.single_byte[uint8_t(text[i])]);
    } else {
      const std::string_view ch = text.substr(i, n);
      if (ch != last_char) {
        last_char = ch;
        last_id = id_of(t, ch);
      }
      m.add(i, n, last_id);
    }
    i += n;
  }
  m.run([&](const MergeSymbol& l, const MergeSymbol& r, uint32_t& order, int32_t& merged) {
    if (l.tag >= 0 && r.tag >= 0) {
      if (const PairMerge* pm = t.pairs.find(l.tag, r.tag)) {
        // With merges given (imported BPE vocabularies) the merged piece must be a token.
        if (pm->result < 0) return false;
        order = pm->order;
        merged = pm->result;
        return true;
      }
    }
    if (!t.pairs_by_text) return false;
    const std::string_view left = text.substr(l.offset, l.length), right = text.substr(r.offset, r.length);
    if (t.has_merges) return merge_by_text(t, left, right, ws, order, merged) && merged >= 0;
    ws.joined.assign(left);
    ws.joined += right;
    merged = id_of(t, ws.joined);
    if (merged < 0) return false;
    order = order_of_score(t.scores[size_t(merged)]);
    return true;
  });
  m.for_each([&](const MergeSymbol& s) {
    if (s.tag >= 0) { out.push_back(s.tag); return; }
    for (size_t i = s.offset; i < s.offset + s.length; ++i) {
      const auto c = uint8_t(text[i]);
      if (t.byte_token[c] >= 0) out.push_back(t.byte_token[c]);
      else if (t.unk >= 0) out.push_back(t.unk);
      else fail("tokenizer: no token for byte ", int(c), " and no unknown token");
    }
  });
}

// The bytes a byte-level piece stands for; false when some character of it
// is not in the byte alphabet (no word spells such a piece).
bool piece_bytes(std::string_view piece, std::string& raw) {
  const ByteMap& bm = byte_map();
  raw.clear();
  for (size_t i = 0; i < piece.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_decode(piece, i, cp);
    if (n == 0) return false;
    const auto b = bm.cp_to_byte.find(cp);
    if (b == bm.cp_to_byte.end()) return false;
    raw += char(b->second);
    i += n;
  }
  return true;
}

// The merge lines, by the ids of their two sides where both are tokens.
void read_merges(TokenizerImpl& t, const std::vector<std::string>& merges) {
  t.has_merges = !merges.empty();
  t.pairs.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t space = m.find(' ');
    if (space == std::string::npos) continue;  // no pair "left right" is ever spelled so
    if (m.find(' ', space + 1) != std::string::npos) {  // which space splits it is known only from the text
      t.pairs_by_text = true;
      continue;
    }
    const std::string_view line(m);
    const int32_t a = id_of(t, line.substr(0, space)), b = id_of(t, line.substr(space + 1));
    if (a < 0 || b < 0) {
      t.pairs_by_text = true;
      continue;
    }
    const std::string joined = m.substr(0, space) + m.substr(space + 1);
    t.pairs.insert(a, b, PairMerge{.order = uint32_t(r), .result = id_of(t, joined)});
  }
  if (t.pairs_by_text)
    for (size_t r = 0; r < merges.size(); ++r) t.merge_rank.emplace(merges[r], int32_t(r));
}

// SentencePiece by scores: every way of cutting a token into two tokens is a
// pair that merges into it, ordered by its score.
void pairs_from_vocabulary(TokenizerImpl& t) {
  for (size_t id = 0; id < t.pieces.size(); ++id) {
    const std::string_view p = t.pieces[id];
    const int32_t whole = id_of(t, p);  // the first of equal pieces is the one merging makes
    for (size_t cut = symbol_len(p, 0); cut < p.size(); cut += symbol_len(p, cut)) {
      const std::string_view a = p.substr(0, cut), b = p.substr(cut);
      const int32_t ia = id_of(t, a), ib = id_of(t, b);
      if (ia >= 0 && ib >= 0) {
        t.pairs.insert(ia, ib, PairMerge{.order = order_of_score(t.scores[size_t(whole)]), .result = whole});
        continue;
      }
      // A side that is one character outside the vocabulary is a symbol
      // with no id: such pairs are looked up by their text.
      if ((ia < 0 && symbol_len(a, 0) == a.size()) || (ib < 0 && symbol_len(b, 0) == b.size())) t.pairs_by_text = true;
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
  t->piece_index.reserve(n);
  for (size_t i = 0; i < n; ++i) t->piece_index.add(t->pieces[i], int32_t(i));
  std::fill(std::begin(t->byte_token), std::end(t->byte_token), -1);
  std::fill(std::begin(t->single_byte), std::end(t->single_byte), -1);
  if (t->is_spm) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& p = t->pieces[i];
      if (t->types[i] == int32_t(TokenType::BYTE) && p.size() == 6 && p.rfind("<0x", 0) == 0)
        t->byte_token[std::stoi(p.substr(3, 2), nullptr, 16)] = int32_t(i);
      if (t->types[i] == int32_t(TokenType::UNKNOWN)) t->unk = int32_t(i);
    }
    for (int b = 0; b < 256; ++b) t->single_byte[b] = id_of(*t, std::string(1, char(b)));
    t->add_space_prefix = md.get_bool_or("tokenizer.ggml.add_space_prefix", true);
  } else {
    for (int b = 0; b < 256; ++b) t->byte_token[b] = id_of(*t, byte_map().byte_to_utf8[b]);
    t->raw_index.reserve(n);
    std::string raw;
    for (size_t i = 0; i < n; ++i)
      if (piece_bytes(t->pieces[i], raw)) t->raw_index.add(raw, int32_t(i));
    std::string pre = md.get_string_or("tokenizer.ggml.pre", "default");
    t->pre = make_pretokenizer(pre);
    t->ignore_merges = pre == "llama3" || pre == "llama-bpe" || pre == "gpt-4o" || pre == "o200k";
  }
  if (md.has("tokenizer.ggml.merges")) read_merges(*t, md.get_string_array("tokenizer.ggml.merges"));
  if (t->is_spm && !t->has_merges) pairs_from_vocabulary(*t);
  if (!t->is_spm) fill_byte_pairs(*t);
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
  Workspace ws;
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
      spm_text(t, esc, ws, out);
    } else {
      for (std::string_view w : t.pre->split(frag)) bpe_word(t, w, ws, out);
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
