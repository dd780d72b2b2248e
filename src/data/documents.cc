#include "data/documents.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"

namespace frugal::data {
namespace fs = std::filesystem;

SplitFormat parse_split_format(const std::string& name) {
  if (name == "auto") return SplitFormat::kAuto;
  if (name == "fortune") return SplitFormat::kFortune;
  if (name == "paragraphs") return SplitFormat::kParagraphs;
  if (name == "lines") return SplitFormat::kLines;
  if (name == "file") return SplitFormat::kFile;
  fail("data: unknown split format '", name, "' (auto, fortune, paragraphs, lines, file)");
}

namespace {

bool skipped_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return true;
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".dat") || ends_with(".u8");
}

bool is_skipped(const fs::path& entry, const std::vector<std::string>& skip) {
  std::error_code ec;
  for (const auto& s : skip)
    if (fs::equivalent(entry, s, ec)) return true;
  return false;
}

void walk(const fs::path& dir, const std::vector<std::string>& skip, std::vector<std::string>& out) {
  std::vector<fs::directory_entry> entries;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e);
  if (ec) fail("data: cannot list folder ", dir.string(), ": ", ec.message());
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  for (const auto& e : entries) {
    const std::string name = e.path().filename().string();
    if (skipped_name(name) || e.is_symlink() || is_skipped(e.path(), skip)) continue;
    if (e.is_directory()) {
      if (name != "off") walk(e.path(), skip, out);
    } else if (e.is_regular_file()) {
      out.push_back(e.path().string());
    }
  }
}

// Lines of text, without their '\n' (a final '\r' is kept: cleaning removes it).
template <class F>
void for_each_line(std::string_view text, F&& f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    f(text.substr(pos, end - pos), pos, end);
    pos = end + 1;
  }
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Documents separated by lines for which is_separator(line) holds.
template <class Pred>
std::vector<std::string_view> split_at_lines(std::string_view text, Pred is_separator) {
  std::vector<std::string_view> docs;
  size_t start = 0;
  auto emit = [&](size_t end) {
    if (end > start) {
      std::string_view d = text.substr(start, end - start);
      if (!is_blank(d)) docs.push_back(d);
    }
  };
  for_each_line(text, [&](std::string_view line, size_t begin, size_t end) {
    if (is_separator(line)) {
      emit(begin);
      start = std::min(end + 1, text.size());
    }
  });
  emit(text.size());
  return docs;
}

}  // namespace

std::vector<std::string> list_input_files(const std::vector<std::string>& paths, const std::vector<std::string>& skip) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) fail("data: input '", p, "' does not exist");
    if (fs::is_directory(st)) walk(p, skip, out);
    else out.push_back(p);
  }
  return out;
}

bool has_line(std::string_view text, std::string_view wanted) {
  bool found = false;
  for_each_line(text, [&](std::string_view line, size_t, size_t) {
    if (strip_cr(line) == wanted) found = true;
  });
  return found;
}

bool looks_like_fortune_file(std::string_view text) { return has_line(text, "%"); }

std::vector<std::string_view> split_at_separator(std::string_view text, std::string_view separator) {
  return split_at_lines(text, [separator](std::string_view l) { return strip_cr(l) == separator; });
}

std::vector<std::string_view> split_documents(std::string_view text, SplitFormat format) {
  if (format == SplitFormat::kAuto) {
    format = looks_like_fortune_file(text) ? SplitFormat::kFortune : SplitFormat::kParagraphs;
  }
  switch (format) {
    case SplitFormat::kFortune:
      return split_at_lines(text, [](std::string_view l) { return strip_cr(l) == "%"; });
    case SplitFormat::kParagraphs:
      return split_at_lines(text, is_blank);
    case SplitFormat::kLines: {
      std::vector<std::string_view> docs;
      for_each_line(text, [&](std::string_view line, size_t, size_t) {
        if (!is_blank(line)) docs.push_back(line);
      });
      return docs;
    }
    case SplitFormat::kFile:
    case SplitFormat::kAuto:
      break;
  }
  if (is_blank(text)) return {};
  return {text};
}

}  // namespace frugal::data
