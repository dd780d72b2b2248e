// A cheap language guess for corpus statistics: the script most letters are
// written in, and for Latin script the language whose common short words
// (articles, pronouns, prepositions) occur most often.
#pragma once
#include <string>
#include <string_view>

namespace frugal::data {

// "en", "de", "fr", "it", "es", "latin" (Latin script, no clear vote),
// "cyrillic", "greek", "arabic", "hebrew", "cjk", "japanese", "korean",
// "other" (letters of another script), "none" (no letters).
std::string guess_language(std::string_view text);

}  // namespace frugal::data
