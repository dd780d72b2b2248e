// The corpus pipeline behind `frugal data`: read the inputs, cut them into
// documents, clean each one, drop the short ones, the exact repeats and the
// near-duplicates, split the rest deterministically into train and validation
// sets and write both as text files with a separator line between documents.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/dedup.h"
#include "data/documents.h"
#include "data/markup.h"

namespace frugal::data {

struct CorpusOptions {
  std::vector<std::string> inputs;        // files or folders
  SplitFormat format = SplitFormat::kAuto;
  MarkupMode markup = MarkupMode::kAuto;  // which inputs are HTML/XML, turned to text before splitting
  MarkupOptions markup_opts;
  std::string out_dir;                    // receives train.txt and val.txt
  double val_fraction = 0.05;             // share of documents in val.txt
  uint64_t seed = 0;                      // picks which documents go to validation
  size_t min_chars = 16;                  // shorter cleaned documents are dropped (characters)
  bool near_dedup = true;
  MinHashParams minhash;
  std::string separator = "<|endoftext|>";  // a line of its own after every document
};

struct CorpusStats {
  uint64_t files = 0, bytes_in = 0;
  uint64_t corpus_files = 0;  // inputs in this command's own output format
  uint64_t markup_files = 0;  // inputs read as HTML/XML
  uint64_t docs_in = 0, too_short = 0, exact_dups = 0, near_dups = 0;
  uint64_t invalid_bytes = 0, control_chars = 0;
  uint64_t train_docs = 0, val_docs = 0, train_bytes = 0, val_bytes = 0;
  std::map<std::string, uint64_t> languages;  // kept documents per guessed language
  double seconds = 0;
};

// True when a document of this cleaned text belongs to the validation set: a
// seeded hash of the text, so the choice depends on the text alone (not on
// the order of the inputs) and is the same on every run.
bool is_validation(const std::string& text, double val_fraction, uint64_t seed);

CorpusStats build_corpus(const CorpusOptions& opts);

// A few lines for stderr.
std::string format_stats(const CorpusStats& s);

}  // namespace frugal::data
