// Markup (HTML, XHTML and XML such as the OSIS of SWORD Bible modules) to
// plain text for `frugal data`, so that documentation and e-texts that ship
// as markup can join a corpus: tags go, entities are decoded, block elements
// become line or paragraph breaks (paragraphs are then the documents), white
// space inside running text collapses as a browser would show it. Elements
// that are not prose are dropped with their content: scripts, styles, the
// document head, navigation (<nav>, role="navigation", "search", "banner",
// "contentinfo"), <footer>, <noscript>, <template>, <svg>, <math>, and the
// <note> of OSIS (footnotes and cross-references inside a verse).
#pragma once
#include <string>
#include <string_view>

namespace frugal::data {

enum class MarkupMode {
  kAuto,  // markup when the file name ends in .html, .htm, .xhtml or .xml
  kHtml,  // every input is markup
  kText,  // no input is markup
};

// "auto", "html", "text"; anything else -> frugal::Error.
MarkupMode parse_markup_mode(const std::string& name);

// True when a file of this name is read as markup under `mode`.
bool is_markup_file(const std::string& path, MarkupMode mode);

struct MarkupOptions {
  bool drop_code = false;  // drop <pre> blocks (code listings) instead of keeping them verbatim
};

// The text of a markup document: paragraphs separated by one blank line.
// Malformed markup never fails: an unclosed tag or comment ends the text, a
// '<' that starts no tag is kept, an unknown entity is kept as written.
std::string markup_to_text(std::string_view markup, const MarkupOptions& opts = {});

}  // namespace frugal::data
