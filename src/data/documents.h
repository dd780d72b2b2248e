// Where documents come from: input paths (files, or folders walked in name
// order) and how a file's text is cut into documents.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace frugal::data {

enum class SplitFormat {
  kAuto,        // fortune when the file has a line holding only '%', else paragraphs
  kFortune,     // entries separated by lines holding only '%' (Debian fortune files)
  kParagraphs,  // blocks separated by blank lines
  kLines,       // one document per non-blank line
  kFile,        // the whole file is one document
};

// "auto", "fortune", "paragraphs", "lines", "file"; anything else -> frugal::Error.
SplitFormat parse_split_format(const std::string& name);

// The files to read, in order. A folder is walked recursively in name order,
// skipping fortune index files (*.dat, *.u8), folders named "off" (the
// offensive fortunes), hidden entries and symbolic links (Debian's fortune
// folders link the same file under two names). A path given explicitly is read
// even when it is a link. A path that does not exist -> frugal::Error.
// A walk also leaves out the entries that are the same file or folder as one
// in `skip` (the run's own output: reading it would feed the last run's
// corpus back in as a document).
std::vector<std::string> list_input_files(const std::vector<std::string>& paths,
                                          const std::vector<std::string>& skip = {});

// True when some line of text holds only `line` (a '\r' before the newline ignored).
bool has_line(std::string_view text, std::string_view line);

// True when some line of text holds only '%'.
bool looks_like_fortune_file(std::string_view text);

// The documents of a corpus that `frugal data` wrote: the pieces between
// lines holding only `separator`.
std::vector<std::string_view> split_at_separator(std::string_view text, std::string_view separator);

// The documents of one file's text (raw, before cleaning). Empty pieces are left out.
std::vector<std::string_view> split_documents(std::string_view text, SplitFormat format);

}  // namespace frugal::data
