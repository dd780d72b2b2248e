#include "data/language.h"

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utf8proc.h>

#include "data/clean.h"

namespace frugal::data {
namespace {

enum Script { kLatin, kCyrillic, kGreek, kArabic, kHebrew, kHan, kKana, kHangul, kOther, kScripts };

Script script_of(uint32_t cp) {
  if (cp < 0x250 || (cp >= 0x1E00 && cp <= 0x1EFF)) return kLatin;
  if (cp >= 0x370 && cp <= 0x3FF) return kGreek;
  if (cp >= 0x400 && cp <= 0x52F) return kCyrillic;
  if (cp >= 0x590 && cp <= 0x5FF) return kHebrew;
  if (cp >= 0x600 && cp <= 0x6FF) return kArabic;
  if (cp >= 0x3040 && cp <= 0x30FF) return kKana;
  if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF)) return kHan;
  if (cp >= 0xAC00 && cp <= 0xD7AF) return kHangul;
  return kOther;
}

// Short words frequent in one language and rare in the others.
const std::unordered_map<std::string, int>& stopwords() {
  static const std::unordered_map<std::string, int> table = [] {
    const std::array<const char*, 5> words = {
        "the and of to is that you it was for with this are not have be",
        "der die das und ist nicht ich ein eine zu den mit sich auch auf",
        "le les et est une pas je vous dans pour qui sur des ce",
        "il di che non una per sono della con gli nel alla anche questo",
        "el los las y es que una por con para del pero como muy se"};
    std::unordered_map<std::string, int> t;
    for (int lang = 0; lang < 5; ++lang) {
      std::string_view list = words[lang];
      size_t pos = 0;
      while (pos < list.size()) {
        size_t end = list.find(' ', pos);
        if (end == std::string_view::npos) end = list.size();
        t.emplace(std::string(list.substr(pos, end - pos)), lang);  // the first language listing a word keeps it
        pos = end + 1;
      }
    }
    return t;
  }();
  return table;
}

}  // namespace

std::string guess_language(std::string_view text) {
  std::array<int, kScripts> letters{};
  std::array<int, 5> votes{};
  std::string word;
  auto end_word = [&] {
    if (!word.empty()) {
      auto it = stopwords().find(word);
      if (it != stopwords().end()) ++votes[it->second];
      word.clear();
    }
  };
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const size_t n = utf8_decode(text, i, cp);
    if (n == 0) { ++i; end_word(); continue; }
    i += n;
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    const bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
    if (!letter) { end_word(); continue; }
    ++letters[script_of(cp)];
    if (cp < 0x80) word += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    else word += '#';  // a non-ASCII letter: the word is no stop word of the table
  }
  end_word();
  int best = 0;
  for (int s = 1; s < kScripts; ++s) if (letters[s] > letters[best]) best = s;
  if (letters[best] == 0) return "none";
  // Japanese text mixes kana and Han: any kana share decides it.
  if ((best == kHan || best == kKana) && letters[kKana] * 10 >= letters[kHan] + letters[kKana]) return "japanese";
  switch (best) {
    case kCyrillic: return "cyrillic";
    case kGreek: return "greek";
    case kArabic: return "arabic";
    case kHebrew: return "hebrew";
    case kHan: return "cjk";
    case kKana: return "japanese";
    case kHangul: return "korean";
    case kOther: return "other";
    default: break;
  }
  static const char* const kNames[5] = {"en", "de", "fr", "it", "es"};
  int lang = 0;
  for (int l = 1; l < 5; ++l) if (votes[l] > votes[lang]) lang = l;
  int second = -1;
  for (int l = 0; l < 5; ++l) if (l != lang && (second < 0 || votes[l] > votes[second])) second = l;
  if (votes[lang] == 0 || votes[lang] == votes[second]) return "latin";
  return kNames[lang];
}

}  // namespace frugal::data
