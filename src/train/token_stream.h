// Where the trainer reads token ids: an array in memory (text tokenised when
// the run starts), or a section of a token file, read at offsets: a batch's
// windows only, so that under data-parallel training each rank reads the
// windows of its own sequences and nothing else (trainer.h).
//
// A token file holds a corpus tokenised once (`frugal train ...
// --write-tokens FILE`): the training ids and the validation ids exactly as
// a run on the text would split them, so a run on the file draws the same
// batches as one on the text. Layout (little-endian): "FRUGALTK", u32
// version (1), u32 0, i64 n_vocab of the tokenizer, u64 training ids, u64
// validation ids, u64 FNV-1a of the training ids as int32 (checkpoint.h's
// data hash, so a checkpoint resumes on the text or on the file alike), then
// the training ids and the validation ids (int32 each).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace frugal::train {

class TokenStream {
 public:
  TokenStream() = default;
  // Implicit: a run on text hands its tokenised ids straight over.
  TokenStream(std::vector<int32_t> ids);  // NOLINT(google-explicit-constructor)

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // ids [start, start + n) into out; frugal::Error on a read that fails.
  void read(size_t start, size_t n, int32_t* out) const;
  // FNV-1a of every id as int32 (checkpoint.h's training data hash).
  uint64_t hash() const;
  // Ids read() has given so far.
  uint64_t ids_read() const { return ids_read_; }

  struct File;

 private:
  friend struct TokenFile;
  std::vector<int32_t> ids_;
  std::shared_ptr<const File> file_;  // non-null: read at offsets from it
  uint64_t file_offset_ = 0;           // bytes, of id 0
  uint64_t file_hash_ = 0;
  size_t size_ = 0;
  mutable uint64_t ids_read_ = 0;
};

struct TokenFile {
  TokenStream train, val;
  int64_t n_vocab = 0;
  std::string path;

  // Whether path starts as a token file does (a text file does not).
  static bool is_one(const std::string& path);
  // frugal::Error for a file that is not one, of another version, or
  // shorter than its header says.
  static TokenFile open(const std::string& path);
  static void write(const std::string& path, const std::vector<int32_t>& train, const std::vector<int32_t>& val,
                    int64_t n_vocab);
};

}  // namespace frugal::train
