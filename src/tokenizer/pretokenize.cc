// Regex pre-tokenizers. Each pattern is matched repeatedly; text between
// matches is kept as its own piece so no byte is ever lost.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include <cstdint>
#include <memory>

#include "base/error.h"
#include "tokenizer/utf8_scan.h"

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
// Kimi-K2: o200k's words, except that Han characters form runs of their own
// (its definition excludes them from the letter classes by set intersection,
// written here as a negative lookahead before each letter). Its \p{Han} is
// the Script property: Kimi-K2's tokenizer runs it through tiktoken, whose
// Rust regular expressions (the regex crate) read a bare script name as
// Script, where PCRE2 reads Script_Extensions (which would put CJK
// punctuation such as U+3002 and U+300C, script Common, into Han runs);
// hence sc=Han.
const char* kKimiK2 =
    R"(\p{sc=Han}+|[^\r\n\p{L}\p{N}]?(?:(?!\p{sc=Han})[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])*(?:(?!\p{sc=Han})[\p{Ll}\p{Lm}\p{Lo}\p{M}])+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?(?:(?!\p{sc=Han})[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])+(?:(?!\p{sc=Han})[\p{Ll}\p{Lm}\p{Lo}\p{M}])*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek V3: digits in groups of up to three, CJK runs, then GPT-style words.
const char* kDeepseekV3[] = {
    R"(\p{N}{1,3})",
    R"([一-龥぀-ゟ゠-ヿ]+)",
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};

// DeepSeek LLM (V1/V2 chat models): newlines alone, Latin/Greek/Cyrillic/...
// letter runs with an optional leading space, ASCII and full-width
// punctuation runs, trailing whitespace, CJK runs, digit runs. These are the
// Split steps (each isolating its matches) of the model's tokenizer.json,
// non-ASCII characters escaped: several (U+1F7D, U+212A, ...) would turn into
// other code points under Unicode normalisation of the source file.
const char* kDeepseekLlm[] = {
    R"([\r\n])",
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)",
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
    R"(\s+$)",
    R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
    R"(\p{N}+)",
};

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

  std::vector<std::string_view> split(std::string_view original) const override {
    // The regexes run on valid UTF-8 only: invalid bytes stand in as U+FFFD
    // while matching, as in Hugging Face's tokenizers (which only ever see
    // decoded strings), and the pieces are then mapped back to the bytes.
    const Utf8Repair repair(original);
    std::vector<std::string_view> pieces{repair.text()};
    for (pcre2_code* code : codes_) {
      std::vector<std::string_view> next;
      // One match block per pattern, not per piece: its allocation cost more
      // than matching the many short pieces of a multi-pattern split.
      std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
          pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
      for (std::string_view piece : pieces) split_one(code, md.get(), piece, next);
      pieces.swap(next);
    }
    return repair.map_back(pieces);
  }

 private:
  static void split_one(pcre2_code* code, pcre2_match_data* md, std::string_view text,
                        std::vector<std::string_view>& out) {
    // `text` is valid UTF-8 (see split), so no match re-checks the subject.
    size_t pos = 0, last = 0;
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
  }

  std::vector<pcre2_code*> codes_;
};

}  // namespace

std::vector<std::string> pretokenizer_regexes(const std::string& name) {
  if (name == "default" || name == "gpt-2" || name == "gpt2" || name == "olmo") return {kGpt2};
  // GLM-4/4.5's (glm4, chatglm-bpe) is Llama 3's split.
  if (name == "llama3" || name == "llama-bpe" || name == "glm4" || name == "chatglm-bpe") return {kLlama3};
  if (name == "qwen2") return {kQwen2};
  // MiniMax-M2's tokenizer.json splits as GPT-4o's does.
  if (name == "gpt-4o" || name == "o200k" || name == "llama4" || name == "minimax-m2") return {kO200k};
  if (name == "kimi-k2") return {kKimiK2};
  if (name == "deepseek-v3") return {std::begin(kDeepseekV3), std::end(kDeepseekV3)};
  if (name == "deepseek-llm") return {std::begin(kDeepseekLlm), std::end(kDeepseekLlm)};
  fail("tokenizer: pre-tokenizer '", name,
       "' is not supported (default, gpt-2, olmo, llama3, llama-bpe, qwen2, glm4, chatglm-bpe, deepseek-llm, deepseek-v3, kimi-k2, gpt-4o, llama4, minimax-m2)");
}

std::unique_ptr<PreTokenizer> make_pretokenizer(const std::string& name) {
  return std::make_unique<RegexPreTokenizer>(pretokenizer_regexes(name));
}

}  // namespace frugal::tokenizer
