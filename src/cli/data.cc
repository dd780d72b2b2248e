// frugal data: raw text (files, folders, Debian fortune files) -> a clean,
// deduplicated corpus in OUT/train.txt and OUT/val.txt, statistics on stderr.
#include <iostream>
#include <memory>

#include "base/log.h"
#include "base/progress.h"
#include "cli/command.h"
#include "data/corpus.h"

namespace frugal::cli {
namespace {

struct DataArgs {
  std::vector<std::string> inputs;
  bool fortunes = false;
  std::string format = "auto";
  std::string markup = "auto";
  data::CorpusOptions opts;
  bool no_near = false;
};

constexpr const char* kFortuneDir = "/usr/share/games/fortunes";

int run_data(DataArgs& a) {
  data::CorpusOptions opts = a.opts;
  opts.inputs = a.inputs;
  if (a.fortunes) opts.inputs.push_back(kFortuneDir);
  opts.format = data::parse_split_format(a.format);
  opts.markup = data::parse_markup_mode(a.markup);
  opts.near_dedup = !a.no_near;
  const bool quiet = log_level() < LogLevel::kInfo;  // -q: only errors on stderr
  if (quiet) Progress::set_enabled(false);
  data::CorpusStats st = data::build_corpus(opts);
  if (!quiet) std::cerr << data::format_stats(st);
  std::cout << "wrote " << opts.out_dir << "/train.txt (" << st.train_docs << " documents) and " << opts.out_dir
            << "/val.txt (" << st.val_docs << " documents)\n";
  return 0;
}

const CommandRegistration kData{
    "data", "raw text -> a clean, deduplicated training corpus (train.txt, val.txt)", [](CLI::App& app) {
      auto a = std::make_shared<DataArgs>();
      app.add_option("inputs", a->inputs, "text files or folders (walked; fortune index files and off/ skipped)");
      app.add_flag("--fortunes", a->fortunes, std::string("add every fortune file under ") + kFortuneDir);
      app.add_option("-o,--output", a->opts.out_dir, "output folder (train.txt, val.txt)")->required();
      app.add_option("--split", a->format, "how a file becomes documents: auto, fortune, paragraphs, lines, file");
      app.add_option("--markup", a->markup,
                     "which inputs are HTML/XML (tags stripped, paragraphs kept): auto (.html .htm .xhtml .xml), html (all), text (none)");
      app.add_flag("--drop-code", a->opts.markup_opts.drop_code, "leave out <pre> blocks (code listings) of HTML/XML inputs");
      app.add_option("--val-fraction", a->opts.val_fraction, "share of documents for validation (default 0.05)");
      app.add_option("--seed", a->opts.seed, "seed of the train/validation choice");
      app.add_option("--min-chars", a->opts.min_chars, "drop cleaned documents shorter than this (default 16)");
      app.add_option("--separator", a->opts.separator, "line written after every document (default <|endoftext|>; '' for none)");
      app.add_flag("--no-near-dedup", a->no_near, "keep near-duplicates (exact duplicates are still dropped)");
      app.add_option("--near-threshold", a->opts.minhash.threshold, "estimated Jaccard similarity that makes a near-duplicate (default 0.8)");
      app.add_option("--shingle", a->opts.minhash.shingle_chars, "characters per shingle (default 5)");
      return [a] { return run_data(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
