#include "data/clean.h"

#include <cstdlib>
#include <utf8proc.h>

#include "base/error.h"
#include "base/utf8.h"

namespace frugal::data {

namespace {

// Pass 1: valid code points only, line ends unified to '\n', control
// characters removed (backspace erasing the character before it), every kind
// of space made ' ' (a tab four of them), line and paragraph separators '\n'.
std::string drop_invalid_and_controls(std::string_view raw, CleanCounts& counts) {
  std::string out;
  out.reserve(raw.size());
  size_t last_char_start = std::string::npos;  // start of the last code point written on this line
  for (size_t i = 0; i < raw.size();) {
    uint32_t cp;
    const size_t n = utf8_decode(raw, i, cp);
    if (n == 0) { ++counts.invalid_bytes; ++i; continue; }
    i += n;
    if (cp == '\r') {
      if (i < raw.size() && raw[i] == '\n') continue;  // \r\n -> \n
      cp = '\n';
    }
    if (cp == 0x2028 || cp == 0x2029 || cp == 0x85 || cp == 0x0B || cp == 0x0C) cp = '\n';
    if (cp == '\n') { out += '\n'; last_char_start = std::string::npos; continue; }
    if (cp == '\t') { out += "    "; last_char_start = std::string::npos; continue; }
    if (cp == 0x08) {  // backspace: overstrike, keep the character that was struck over last
      ++counts.control_chars;
      if (last_char_start != std::string::npos) { out.resize(last_char_start); last_char_start = std::string::npos; }
      continue;
    }
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    if (cat == UTF8PROC_CATEGORY_CC || cp == 0xFEFF) { ++counts.control_chars; continue; }
    if (cat == UTF8PROC_CATEGORY_ZS) cp = ' ';
    last_char_start = out.size();
    append_utf8(out, cp);
  }
  return out;
}

// NFC through utf8proc (input is valid UTF-8 without NUL by now).
std::string nfc(const std::string& s) {
  if (s.empty()) return s;
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &mapped,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) fail("data: NFC normalisation failed: ", utf8proc_errmsg(n));
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  return out;
}

// Pass 2, line by line: indentation kept, inner runs of spaces collapsed,
// trailing spaces cut; at most one blank line in a row, none at either end.
std::string normalise_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  int pending_blank = 0;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find('\n', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string_view line = s.substr(pos, end - pos);
    pos = end + 1;
    size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;
    size_t last = line.size();
    while (last > indent && line[last - 1] == ' ') --last;
    if (last == indent) {  // blank line
      if (!out.empty()) pending_blank = 1;
      if (end == s.size()) break;
      continue;
    }
    if (!out.empty()) out += pending_blank ? "\n\n" : "\n";
    pending_blank = 0;
    out.append(indent, ' ');
    bool in_space = false;
    for (size_t i = indent; i < last; ++i) {
      if (line[i] == ' ') {
        if (!in_space) out += ' ';
        in_space = true;
      } else {
        out += line[i];
        in_space = false;
      }
    }
    if (end == s.size()) break;
  }
  return out;
}

}  // namespace

std::string clean_text(std::string_view raw, CleanCounts* counts) {
  CleanCounts local;
  CleanCounts& c = counts ? *counts : local;
  return normalise_whitespace(nfc(drop_invalid_and_controls(raw, c)));
}

}  // namespace frugal::data
