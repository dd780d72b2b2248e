#include "data/corpus.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <xxhash.h>

#include "base/error.h"
#include "base/human_format.h"
#include "base/progress.h"
#include "data/clean.h"
#include "data/language.h"

namespace frugal::data {

bool is_validation(const std::string& text, double val_fraction, uint64_t seed) {
  const uint64_t h = XXH3_64bits_withSeed(text.data(), text.size(), seed);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < val_fraction;
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("data: cannot open '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("data: cannot read '", path, "'");
  return ss.str();
}

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
  const std::vector<std::string> files = list_input_files(opts.inputs);
  if (files.empty()) fail("data: the inputs hold no files");
  NearDedup near(opts.minhash);  // validates the MinHash parameters before any output
  ExactDedup exact;

  std::error_code ec;
  std::filesystem::create_directories(opts.out_dir, ec);
  if (ec) fail("data: cannot create folder '", opts.out_dir, "': ", ec.message());
  const std::string train_path = opts.out_dir + "/train.txt", val_path = opts.out_dir + "/val.txt";
  std::ofstream train(train_path, std::ios::binary), val(val_path, std::ios::binary);
  if (!train || !val) fail("data: cannot write into '", opts.out_dir, "'");

  CorpusStats st;
  st.files = files.size();
  uint64_t total_bytes = 0;
  for (const auto& f : files) total_bytes += std::filesystem::file_size(f, ec);
  Progress progress("cleaning", total_bytes, "B");
  for (const auto& path : files) {
    const std::string raw = read_file(path);
    st.bytes_in += raw.size();
    for (std::string_view doc : split_documents(raw, opts.format)) {
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
      std::ofstream& out = to_val ? val : train;
      out << text << '\n';
      if (!opts.separator.empty()) out << opts.separator << '\n';
      const uint64_t bytes = text.size() + 1 + (opts.separator.empty() ? 0 : opts.separator.size() + 1);
      if (to_val) { ++st.val_docs; st.val_bytes += bytes; }
      else { ++st.train_docs; st.train_bytes += bytes; }
    }
    progress.add(raw.size());
  }
  progress.finish();
  train.close();
  val.close();
  if (!train || !val) fail("data: writing into '", opts.out_dir, "' failed");
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

std::string format_stats(const CorpusStats& s) {
  std::ostringstream os;
  const uint64_t kept = s.train_docs + s.val_docs;
  os << "read " << s.files << " files, " << human_bytes(s.bytes_in) << ", " << s.docs_in << " documents\n";
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
