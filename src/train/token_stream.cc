#include "train/token_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/output_file.h"
#include "train/checkpoint.h"

namespace frugal::train {
namespace {

constexpr char kMagic[8] = {'F', 'R', 'U', 'G', 'A', 'L', 'T', 'K'};
constexpr uint32_t kVersion = 1;

struct Header {
  char magic[8];
  uint32_t version, zero;
  int64_t n_vocab;
  uint64_t n_train, n_val, train_hash;
};
static_assert(sizeof(Header) == 48);

}  // namespace

struct TokenStream::File {
  int fd = -1;
  std::string path;
  int64_t n_vocab = 0;
  ~File() {
    if (fd >= 0) ::close(fd);
  }
};

TokenStream::TokenStream(std::vector<int32_t> ids) : ids_(std::move(ids)), size_(ids_.size()) {}

void TokenStream::read(size_t start, size_t n, int32_t* out) const {
  if (start > size_ || n > size_ - start) fail("train: token ids [", start, ", ", start + n, ") past the end ", size_);
  ids_read_ += n;
  if (!file_) {
    std::memcpy(out, ids_.data() + start, n * sizeof(int32_t));
    return;
  }
  char* at = reinterpret_cast<char*>(out);
  size_t left = n * sizeof(int32_t);
  off_t pos = static_cast<off_t>(file_offset_ + start * sizeof(int32_t));
  while (left > 0) {
    const ssize_t got = ::pread(file_->fd, at, left, pos);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) fail("train: reading ", file_->path, ": ", got < 0 ? std::strerror(errno) : "the file got shorter");
    at += got, left -= static_cast<size_t>(got), pos += got;
  }
  // An id a damaged file holds would index past the embedding.
  for (size_t i = 0; i < n; ++i)
    if (out[i] < 0 || out[i] >= file_->n_vocab)
      fail("train: token file ", file_->path, " holds the id ", out[i], " (training or validation id ", start + i,
           "), outside its vocabulary of ", file_->n_vocab, " (damaged?)");
}

uint64_t TokenStream::hash() const { return file_ ? file_hash_ : training_data_hash(ids_); }

bool TokenFile::is_one(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char head[sizeof(kMagic)] = {};
  const ssize_t got = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  return got == static_cast<ssize_t>(sizeof head) && std::memcmp(head, kMagic, sizeof kMagic) == 0;
}

TokenFile TokenFile::open(const std::string& path) {
  auto file = std::make_shared<TokenStream::File>();
  file->path = path;
  file->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file->fd < 0) fail("train: cannot open token file ", path, ": ", std::strerror(errno));
  Header h{};
  if (::pread(file->fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
      std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
    fail("train: ", path, " is not a frugal token file");
  if (h.version != kVersion) fail("train: token file ", path, " has version ", h.version, "; this frugal reads ", kVersion);
  const off_t end = ::lseek(file->fd, 0, SEEK_END);
  constexpr uint64_t kMaxIds = uint64_t{1} << 60;
  if (end < 0 || h.n_train > kMaxIds || h.n_val > kMaxIds ||
      static_cast<uint64_t>(end) != sizeof h + (h.n_train + h.n_val) * sizeof(int32_t))
    fail("train: token file ", path, " is ", end, " bytes; its header says ", h.n_train, " training and ", h.n_val,
         " validation ids (truncated or corrupt)");
  if (h.n_vocab <= 0) fail("train: token file ", path, " has a vocabulary of ", h.n_vocab, " tokens (corrupt)");
  file->n_vocab = h.n_vocab;
  TokenFile tf;
  tf.path = path;
  tf.n_vocab = h.n_vocab;
  auto section = [&](uint64_t offset, uint64_t n, uint64_t hash) {
    TokenStream s;
    s.file_ = file;
    s.file_offset_ = offset;
    s.file_hash_ = hash;
    s.size_ = static_cast<size_t>(n);
    return s;
  };
  tf.train = section(sizeof h, h.n_train, h.train_hash);
  tf.val = section(sizeof h + h.n_train * sizeof(int32_t), h.n_val, 0);
  return tf;
}

void TokenFile::write(const std::string& path, const std::vector<int32_t>& train, const std::vector<int32_t>& val,
                      int64_t n_vocab) {
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.n_vocab = n_vocab;
  h.n_train = train.size();
  h.n_val = val.size();
  h.train_hash = training_data_hash(train);
  OutputFile out(path);
  out.write(&h, sizeof h);
  out.write(train.data(), train.size() * sizeof(int32_t));
  out.write(val.data(), val.size() * sizeof(int32_t));
  out.commit();
}

}  // namespace frugal::train
