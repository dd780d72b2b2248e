#include "data/markup.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

#include "base/error.h"
#include "base/utf8.h"

namespace frugal::data {

MarkupMode parse_markup_mode(const std::string& name) {
  if (name == "auto") return MarkupMode::kAuto;
  if (name == "html") return MarkupMode::kHtml;
  if (name == "text") return MarkupMode::kText;
  fail("data: unknown markup mode '", name, "' (auto, html, text)");
}

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool ends_with_nocase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (lower(s[s.size() - suffix.size() + i]) != suffix[i]) return false;
  return true;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == ':' || c == '.';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool in(std::string_view name, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), name) != set.end();
}

// Elements with no closing tag in HTML.
bool is_void(std::string_view n) {
  return in(n, {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                "track", "wbr"});
}

// Elements dropped with everything inside them (see markup.h).
bool is_dropped(std::string_view n) {
  return in(n, {"script", "style", "head", "nav", "footer", "noscript", "template", "svg", "math", "note"});
}

// Elements whose content is raw text (a '<' inside does not start a tag).
bool is_raw_text(std::string_view n) { return n == "script" || n == "style"; }

// Elements that start and end a paragraph.
bool is_paragraph(std::string_view n) {
  if (n.size() == 2 && n[0] == 'h' && n[1] >= '1' && n[1] <= '6') return true;
  return in(n, {"p", "div", "section", "article", "aside", "main", "header", "blockquote", "figure", "figcaption",
                "ul", "ol", "dl", "table", "form", "fieldset", "address", "title", "hr", "center", "details",
                "summary", "body", "html", "lg", "chapter"});
}

// Elements that start and end a line inside a paragraph.
bool is_line(std::string_view n) {
  return in(n, {"li", "dt", "dd", "tr", "caption", "br", "l", "option", "legend"});
}

// The value of attribute `key` in a start tag's attribute text, lower-cased; "" when absent.
std::string attribute(std::string_view attrs, std::string_view key) {
  size_t pos = 0;
  while (pos < attrs.size()) {
    while (pos < attrs.size() && !is_name_char(attrs[pos])) ++pos;
    size_t start = pos;
    while (pos < attrs.size() && is_name_char(attrs[pos])) ++pos;
    std::string name;
    for (size_t i = start; i < pos; ++i) name += lower(attrs[i]);
    while (pos < attrs.size() && is_space(attrs[pos])) ++pos;
    if (pos >= attrs.size() || attrs[pos] != '=') continue;
    ++pos;
    while (pos < attrs.size() && is_space(attrs[pos])) ++pos;
    std::string value;
    if (pos < attrs.size() && (attrs[pos] == '"' || attrs[pos] == '\'')) {
      const char q = attrs[pos++];
      const size_t end = attrs.find(q, pos);
      const size_t stop = end == std::string_view::npos ? attrs.size() : end;
      for (size_t i = pos; i < stop; ++i) value += lower(attrs[i]);
      pos = stop + 1;
    } else {
      while (pos < attrs.size() && !is_space(attrs[pos])) value += lower(attrs[pos++]);
    }
    if (name == key) return value;
  }
  return "";
}

bool is_dropped_role(std::string_view attrs) {
  const std::string role = attribute(attrs, "role");
  return role == "navigation" || role == "search" || role == "banner" || role == "contentinfo";
}

// An entity's code point as UTF-8; NUL, surrogates and values past U+10FFFF
// (which a numeric reference can spell) become U+FFFD.
void append_code_point(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  append_utf8(out, cp);
}

struct NamedEntity {
  std::string_view name;
  uint32_t cp;
};

// The entities that documentation and e-texts use; others stay as written.
constexpr std::array<NamedEntity, 44> kEntities{{
    {"amp", '&'},       {"lt", '<'},         {"gt", '>'},         {"quot", '"'},       {"apos", '\''},
    {"nbsp", 0xA0},     {"shy", 0xAD},       {"mdash", 0x2014},   {"ndash", 0x2013},   {"hellip", 0x2026},
    {"lsquo", 0x2018},  {"rsquo", 0x2019},   {"ldquo", 0x201C},   {"rdquo", 0x201D},   {"laquo", 0xAB},
    {"raquo", 0xBB},    {"copy", 0xA9},      {"reg", 0xAE},       {"trade", 0x2122},   {"deg", 0xB0},
    {"middot", 0xB7},   {"bull", 0x2022},    {"times", 0xD7},     {"divide", 0xF7},    {"para", 0xB6},
    {"sect", 0xA7},     {"eacute", 0xE9},    {"egrave", 0xE8},    {"ecirc", 0xEA},     {"aacute", 0xE1},
    {"agrave", 0xE0},   {"acirc", 0xE2},     {"iacute", 0xED},    {"oacute", 0xF3},    {"ocirc", 0xF4},
    {"uacute", 0xFA},   {"ouml", 0xF6},      {"uuml", 0xFC},      {"auml", 0xE4},      {"szlig", 0xDF},
    {"ccedil", 0xE7},   {"ntilde", 0xF1},    {"larr", 0x2190},    {"rarr", 0x2192},
}};

// Decodes the entity at text[pos] == '&' into out; returns the characters consumed (0: not an entity).
size_t decode_entity(std::string_view text, size_t pos, std::string& out) {
  // Entities are short: look for the ';' only that far, or a text with many '&' and few ';' is quadratic.
  const size_t semi = text.substr(0, std::min(text.size(), pos + 13)).find(';', pos + 1);
  if (semi == std::string_view::npos) return 0;
  const std::string_view body = text.substr(pos + 1, semi - pos - 1);
  if (body.size() >= 2 && body[0] == '#') {
    const bool hex = body[1] == 'x' || body[1] == 'X';
    const std::string digits(body.substr(hex ? 2 : 1));
    if (digits.empty()) return 0;
    char* end = nullptr;
    const unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
    if (*end != '\0') return 0;
    append_code_point(out, cp > 0x10FFFF ? 0xFFFD : static_cast<uint32_t>(cp));
    return semi - pos + 1;
  }
  for (const auto& e : kEntities)
    if (body == e.name) {
      if (e.cp != 0xAD) append_code_point(out, e.cp);  // a soft hyphen shows nothing
      return semi - pos + 1;
    }
  return 0;
}

// Builds the text: breaks are held back until text follows, so runs of block
// tags give one break, the text starts and ends without one, and spaces
// before a break are cut.
class TextOut {
 public:
  void text(std::string_view s, bool verbatim) {
    for (char c : s) {
      if (!verbatim && is_space(c)) {
        space_ = true;
        continue;
      }
      if (verbatim && c == '\n') {
        out_ += '\n';
        space_ = false;
        continue;
      }
      flush();
      out_ += c;
    }
  }
  void decoded(const std::string& s) {
    if (s == "\xC2\xA0") {  // a no-break space is a space; cleaning normalises it
      space_ = true;
      return;
    }
    flush();
    out_ += s;
  }
  void line_break() { brk_ = std::max(brk_, 1); }
  void paragraph_break() { brk_ = 2; }
  std::string take() {
    out_ += '\n';
    return std::move(out_);
  }

 private:
  void flush() {
    if (brk_ > 0 && !out_.empty()) {
      while (!out_.empty() && out_.back() == ' ') out_.pop_back();
      out_.append(brk_ == 2 ? "\n\n" : "\n");  // extra blank lines after a <pre> go in cleaning
    } else if (space_ && !out_.empty() && out_.back() != '\n') {
      out_ += ' ';
    }
    brk_ = 0;
    space_ = false;
  }
  std::string out_;
  int brk_ = 0;        // 0: none, 1: line break, 2: paragraph break
  bool space_ = false;  // white space seen since the last character
};

}  // namespace

bool is_markup_file(const std::string& path, MarkupMode mode) {
  if (mode != MarkupMode::kAuto) return mode == MarkupMode::kHtml;
  return ends_with_nocase(path, ".html") || ends_with_nocase(path, ".htm") || ends_with_nocase(path, ".xhtml") ||
         ends_with_nocase(path, ".xml");
}

std::string markup_to_text(std::string_view m, const MarkupOptions& opts) {
  TextOut out;
  std::string drop_name;  // the element being dropped, "" when none
  int drop_depth = 0;     // nesting of drop_name inside itself
  int pre_depth = 0;      // inside <pre>: white space kept
  size_t pos = 0;
  while (pos < m.size()) {
    const char c = m[pos];
    if (c == '&' && drop_name.empty()) {
      std::string decoded;
      const size_t used = decode_entity(m, pos, decoded);
      if (used > 0) {
        out.decoded(decoded);
        pos += used;
      } else {
        out.text("&", pre_depth > 0);
        ++pos;
      }
      continue;
    }
    if (c != '<') {
      const size_t next = m.find_first_of("<&", pos + 1);  // one scan: two find()s would be quadratic
      const size_t end = next == std::string_view::npos ? m.size() : next;
      if (drop_name.empty()) out.text(m.substr(pos, end - pos), pre_depth > 0);
      pos = end;
      continue;
    }
    // Comments, CDATA, declarations and processing instructions.
    if (m.compare(pos, 4, "<!--") == 0) {
      const size_t end = m.find("-->", pos + 4);
      pos = end == std::string_view::npos ? m.size() : end + 3;
      continue;
    }
    if (m.compare(pos, 9, "<![CDATA[") == 0) {
      const size_t end = m.find("]]>", pos + 9);
      const size_t stop = end == std::string_view::npos ? m.size() : end;
      if (drop_name.empty()) out.text(m.substr(pos + 9, stop - pos - 9), pre_depth > 0);
      pos = end == std::string_view::npos ? m.size() : end + 3;
      continue;
    }
    if (pos + 1 < m.size() && (m[pos + 1] == '!' || m[pos + 1] == '?')) {
      const size_t end = m.find('>', pos);
      pos = end == std::string_view::npos ? m.size() : end + 1;
      continue;
    }
    const bool closing = pos + 1 < m.size() && m[pos + 1] == '/';
    size_t p = pos + (closing ? 2 : 1);
    const size_t name_start = p;
    while (p < m.size() && is_name_char(m[p])) ++p;
    if (p == name_start || !((m[name_start] >= 'a' && m[name_start] <= 'z') ||
                             (m[name_start] >= 'A' && m[name_start] <= 'Z'))) {
      if (drop_name.empty()) out.text("<", pre_depth > 0);  // a '<' that starts no tag
      ++pos;
      continue;
    }
    std::string name;
    for (size_t i = name_start; i < p; ++i) name += lower(m[i]);
    // The end of the tag: the first '>' outside quoted attribute values.
    size_t q = p;
    char quote = 0;
    for (; q < m.size(); ++q) {
      if (quote) {
        if (m[q] == quote) quote = 0;
      } else if (m[q] == '"' || m[q] == '\'') {
        quote = m[q];
      } else if (m[q] == '>') {
        break;
      }
    }
    if (q >= m.size()) break;  // an unclosed tag ends the text
    const std::string_view attrs = m.substr(p, q - p);
    const bool self_closing = !closing && !attrs.empty() && attrs.back() == '/';
    pos = q + 1;

    if (!drop_name.empty()) {
      if (name == drop_name && !self_closing) drop_depth += closing ? -1 : 1;
      if (drop_depth == 0) drop_name.clear();
      continue;
    }
    if (!closing && !self_closing && !is_void(name) &&
        (is_dropped(name) || (opts.drop_code && name == "pre") || is_dropped_role(attrs))) {
      if (is_raw_text(name)) {
        // Raw text: skip to the matching end tag without reading tags inside.
        const std::string end_tag = "</" + name;
        size_t e = pos;
        while (e < m.size()) {
          e = m.find("</", e);
          if (e == std::string_view::npos) break;
          bool match = true;
          for (size_t i = 0; i < end_tag.size() && match; ++i)
            match = e + i < m.size() && lower(m[e + i]) == end_tag[i];
          if (match) break;
          e += 2;
        }
        if (e == std::string_view::npos) {
          pos = m.size();
        } else {
          const size_t gt = m.find('>', e);
          pos = gt == std::string_view::npos ? m.size() : gt + 1;
        }
      } else {
        drop_name = name;
        drop_depth = 1;
      }
      continue;  // no break: an OSIS <note> sits inside a sentence
    }
    if (name == "pre") {
      if (!self_closing) pre_depth = std::max(0, pre_depth + (closing ? -1 : 1));
      out.paragraph_break();
    } else if (is_paragraph(name)) {
      out.paragraph_break();
    } else if (is_line(name)) {
      out.line_break();
    } else if (name == "td" || name == "th") {
      out.text(" ", false);
    }
  }
  return out.take();
}

}  // namespace frugal::data
