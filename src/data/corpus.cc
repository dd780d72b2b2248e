#include "data/corpus.h"

#include <chrono>
#include <filesystem>
#include <sstream>
#include <xxhash.h>

#include "base/error.h"
#include "base/human_format.h"
#include "base/output_file.h"
#include "base/read_file.h"
#include "base/progress.h"
#include "data/clean.h"
#include "data/language.h"

namespace frugal::data {

bool is_validation(const std::string& text, double val_fraction, uint64_t seed) {
  const uint64_t h = XXH3_64bits_withSeed(text.data(), text.size(), seed);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < val_fraction;
}

namespace {

size_t count_chars(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

CorpusStats build_corpus(const CorpusOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  if (opts.inputs.empty()) fail("data: no input files");
  if (opts.out_dir.empty()) fail("data: no output folder (-o DIR)");
  if (!(opts.val_fraction >= 0.0 && opts.val_fraction < 1.0)) fail("data: --val-fraction must be in [0, 1)");
  if (opts.separator.find('\n') != std::string::npos) fail("data: the separator must be one line");
  const std::string train_path = opts.out_dir + "/train.txt", val_path = opts.out_dir + "/val.txt";
  // The output folder may lie inside an input folder (or be one): its files
  // are this run's output, not input.
  const std::vector<std::string> files = list_input_files(opts.inputs, {opts.out_dir, train_path, val_path});
  if (files.empty()) fail("data: the inputs hold no files");
  NearDedup near(opts.minhash);  // validates the MinHash parameters before any output
  ExactDedup exact;

  std::error_code ec;
  std::filesystem::create_directories(opts.out_dir, ec);
  if (ec) fail("data: cannot create folder '", opts.out_dir, "': ", ec.message());
  // Replaced only at the end, so an input named explicitly that is an old
  // output is read whole before it changes.
  OutputFile train(train_path), val(val_path);

  CorpusStats st;
  st.files = files.size();
  uint64_t total_bytes = 0;
  for (const auto& f : files) {
    // Only a regular file has a size; a device or pipe (/dev/null) counts as 0.
    const uintmax_t size = std::filesystem::is_regular_file(f, ec) ? std::filesystem::file_size(f, ec) : 0;
    if (!ec) total_bytes += size;
  }
  Progress progress("cleaning", total_bytes, "B");
  for (const auto& path : files) {
    std::string raw;
    try {
      raw = read_whole_file(path);
    } catch (const Error& e) {
      fail("data: ", e.what());
    }
    st.bytes_in += raw.size();
    const size_t raw_size = raw.size();
    if (is_markup_file(path, opts.markup)) {
      raw = markup_to_text(raw, opts.markup_opts);
      ++st.markup_files;
    }
    // A corpus this command wrote (an earlier run's train.txt, named or found
    // in a folder) is cut at its separator lines, so that each of its
    // documents is cleaned and deduplicated on its own instead of the whole
    // file becoming one document with separators inside.
    const bool own_format = !opts.separator.empty() && has_line(raw, opts.separator);
    st.corpus_files += own_format;
    for (std::string_view doc : own_format ? split_at_separator(raw, opts.separator)
                                           : split_documents(raw, opts.format)) {
      ++st.docs_in;
      CleanCounts cc;
      std::string text = clean_text(doc, &cc);
      st.invalid_bytes += cc.invalid_bytes;
      st.control_chars += cc.control_chars;
      if (count_chars(text) < opts.min_chars) { ++st.too_short; continue; }
      if (!exact.insert(text)) { ++st.exact_dups; continue; }
      if (opts.near_dedup && !near.insert(text)) { ++st.near_dups; continue; }
      ++st.languages[guess_language(text)];
      const bool to_val = is_validation(text, opts.val_fraction, opts.seed);
      OutputFile& out = to_val ? val : train;
      out.write(text);
      out.write("\n");
      if (!opts.separator.empty()) {
        out.write(opts.separator);
        out.write("\n");
      }
      const uint64_t bytes = text.size() + 1 + (opts.separator.empty() ? 0 : opts.separator.size() + 1);
      if (to_val) { ++st.val_docs; st.val_bytes += bytes; }
      else { ++st.train_docs; st.train_bytes += bytes; }
    }
    progress.add(raw_size);
  }
  progress.finish();
  try {
    train.commit();
    val.commit();
  } catch (const Error& e) {
    fail("data: ", e.what());
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

std::string format_stats(const CorpusStats& s) {
  std::ostringstream os;
  const uint64_t kept = s.train_docs + s.val_docs;
  os << "read " << s.files << " files";
  if (s.corpus_files > 0)
    os << " (" << s.corpus_files << " written by frugal data, cut at their separator lines)";
  if (s.markup_files > 0) os << " (" << s.markup_files << " read as HTML/XML)";
  os << ", " << human_bytes(s.bytes_in) << ", " << s.docs_in << " documents\n";
  os << "dropped " << s.too_short << " too short, " << s.exact_dups << " exact duplicates, " << s.near_dups
     << " near-duplicates; removed " << s.invalid_bytes << " invalid UTF-8 bytes, " << s.control_chars
     << " control characters\n";
  os << "kept " << kept << " documents: train " << s.train_docs << " (" << human_bytes(s.train_bytes) << "), val "
     << s.val_docs << " (" << human_bytes(s.val_bytes) << ")\n";
  os << "languages:";
  for (const auto& [lang, n] : s.languages) os << " " << lang << " " << n;
  os << "\n";
  char t[32];
  std::snprintf(t, sizeof t, "%.2f", s.seconds);
  os << "took " << t << " s\n";
  return os.str();
}

}  // namespace frugal::data
