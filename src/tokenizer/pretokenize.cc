// Regex pre-tokenizers. Each pattern is matched repeatedly; text between
// matches is kept as its own piece so no byte is ever lost.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include <cstdint>

#include "base/error.h"

namespace frugal::tokenizer {
namespace {

// GPT-2's split: contractions, letters, numbers, other symbols, whitespace.
const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3: case-insensitive contractions, numbers in groups of up to three.
const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3 but every digit on its own.
const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-4o (o200k): case-aware words with trailing contractions.
const char* kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek V3: digits in groups of up to three, CJK runs, then GPT-style words.
const char* kDeepseekV3[] = {
    R"(\p{N}{1,3})",
    R"([一-龥぀-ゟ゠-ヿ]+)",
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : (c & (0xFF >> (n + 1)));
    for (size_t k = 1; k < n; ++k) {
      unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

class RegexPreTokenizer : public PreTokenizer {
 public:
  explicit RegexPreTokenizer(const std::vector<std::string>& patterns) {
    for (const std::string& p : patterns) {
      int err = 0;
      PCRE2_SIZE off = 0;
      pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
      if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        fail("tokenizer: pre-tokenizer regex does not compile at offset ", off, ": ", reinterpret_cast<char*>(msg));
      }
      pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; falls back to the interpreter
      codes_.push_back(code);
    }
  }
  ~RegexPreTokenizer() override {
    for (pcre2_code* c : codes_) pcre2_code_free(c);
  }
  RegexPreTokenizer(const RegexPreTokenizer&) = delete;
  RegexPreTokenizer& operator=(const RegexPreTokenizer&) = delete;

  std::vector<std::string_view> split(std::string_view text) const override {
    std::vector<std::string_view> pieces{text};
    for (pcre2_code* code : codes_) {
      std::vector<std::string_view> next;
      for (std::string_view piece : pieces) split_one(code, piece, next);
      pieces.swap(next);
    }
    return pieces;
  }

 private:
  static void split_one(pcre2_code* code, std::string_view text, std::vector<std::string_view>& out) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    // Invalid UTF-8 must not reach PCRE2 unchecked: such text is kept whole
    // (byte-level BPE encodes it byte by byte anyway). Checked once here so
    // that each match need not re-check the whole subject.
    size_t pos = 0, last = 0;
    if (!valid_utf8(text)) pos = text.size();
    while (pos < text.size()) {
      int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc < 0) break;
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t s = ov[0], e = ov[1];
      if (s > last) out.push_back(text.substr(last, s - last));
      if (e > s) out.push_back(text.substr(s, e - s));
      last = e;
      if (e == s) {  // empty match: step one character
        pos = e + 1;
        while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      } else {
        pos = e;
      }
    }
    if (last < text.size()) out.push_back(text.substr(last));
    pcre2_match_data_free(md);
  }

  std::vector<pcre2_code*> codes_;
};

}  // namespace

std::vector<std::string> pretokenizer_regexes(const std::string& name) {
  if (name == "default" || name == "gpt-2" || name == "gpt2" || name == "olmo") return {kGpt2};
  if (name == "llama3" || name == "llama-bpe") return {kLlama3};
  if (name == "qwen2") return {kQwen2};
  if (name == "gpt-4o" || name == "o200k") return {kO200k};
  if (name == "deepseek-v3") return {std::begin(kDeepseekV3), std::end(kDeepseekV3)};
  fail("tokenizer: pre-tokenizer '", name,
       "' is not supported (default, gpt-2, olmo, llama3, llama-bpe, qwen2, deepseek-v3, gpt-4o)");
}

std::unique_ptr<PreTokenizer> make_pretokenizer(const std::string& name) {
  return std::make_unique<RegexPreTokenizer>(pretokenizer_regexes(name));
}

}  // namespace frugal::tokenizer
