#include "quant/imatrix_file.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/output_file.h"
#include "base/read_file.h"
#include "gguf/reader.h"
#include "gguf/writer.h"

namespace frugal::quant {
namespace {

constexpr const char* kSum2Suffix = ".in_sum2";
constexpr const char* kCountsSuffix = ".counts";

bool strip_suffix(std::string& s, const std::string& suffix) {
  if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  s.resize(s.size() - suffix.size());
  return true;
}

Imatrix read_gguf(const std::string& path) {
  const gguf::Reader r = gguf::Reader::open(path);
  const gguf::Metadata& md = r.metadata();
  Imatrix m;
  if (md.has("imatrix.datasets")) m.datasets = md.get_string_array("imatrix.datasets");
  m.chunk_count = static_cast<uint32_t>(md.get_uint_or("imatrix.chunk_count", 0));
  m.chunk_size = static_cast<uint32_t>(md.get_uint_or("imatrix.chunk_size", 0));
  for (const gguf::TensorInfo& t : r.tensors()) {
    std::string name = t.name;
    if (!strip_suffix(name, kSum2Suffix)) continue;
    const gguf::TensorInfo* c = r.find_tensor(name + kCountsSuffix);
    if (!c) fail(path, ": ", t.name, " has no ", name, kCountsSuffix);
    if (t.type != TensorType::F32 || c->type != TensorType::F32 || t.shape.empty())
      fail(path, ": ", name, ": in_sum2 and counts must be F32");
    ImatrixEntry e;
    e.n_in = static_cast<int64_t>(t.shape[0]);
    e.n_mat = static_cast<int64_t>(t.rows());
    if (e.n_in <= 0 || c->n_elements != static_cast<uint64_t>(e.n_mat))
      fail(path, ": ", name, ": ", e.n_mat, " matrices of sums but ", c->n_elements, " counts");
    e.in_sum2.resize(t.n_elements);
    std::memcpy(e.in_sum2.data(), t.data, t.n_elements * sizeof(float));
    e.counts.resize(c->n_elements);
    std::memcpy(e.counts.data(), c->data, c->n_elements * sizeof(float));
    m.entries.emplace(std::move(name), std::move(e));
  }
  if (m.entries.empty()) fail(path, ": no ", kSum2Suffix, " tensors: not an importance matrix");
  return m;
}

// A bounds-checked cursor over the legacy file's bytes.
struct Cursor {
  const std::string& bytes;
  const std::string& path;
  size_t at = 0;
  bool done() const { return at == bytes.size(); }
  void take(void* out, size_t n) {
    if (n > bytes.size() - at) fail(path, ": truncated importance matrix (legacy format) at byte ", at);
    std::memcpy(out, bytes.data() + at, n);
    at += n;
  }
  int32_t i32() {
    int32_t v;
    take(&v, 4);
    return v;
  }
  std::string str() {
    const int32_t n = i32();
    if (n < 0 || static_cast<size_t>(n) > bytes.size() - at) fail(path, ": bad name length ", n, " at byte ", at - 4);
    std::string s(static_cast<size_t>(n), '\0');
    take(s.data(), s.size());
    return s;
  }
};

Imatrix read_legacy(const std::string& path) {
  const std::string bytes = read_whole_file(path);
  Cursor in{bytes, path};
  const int32_t n_entries = in.i32();
  if (n_entries < 1) fail(path, ": no entries: not an importance matrix");
  Imatrix m;
  for (int32_t i = 0; i < n_entries; ++i) {
    std::string name = in.str();
    const int32_t ncall = in.i32(), nval = in.i32();
    if (nval < 1 || static_cast<size_t>(nval) > (bytes.size() - in.at) / 4)
      fail(path, ": entry ", name, ": bad value count ", nval);
    ImatrixEntry e;
    e.n_in = nval;  // one matrix; split into experts by importance() from the weight's shape
    e.in_sum2.resize(static_cast<size_t>(nval));
    in.take(e.in_sum2.data(), e.in_sum2.size() * 4);
    e.counts = {static_cast<float>(ncall)};
    m.entries[std::move(name)] = std::move(e);
  }
  if (!in.done()) {
    m.chunk_count = static_cast<uint32_t>(in.i32());
    if (!in.done()) {
      std::string dataset = in.str();
      if (!dataset.empty()) m.datasets.push_back(std::move(dataset));
    }
  }
  return m;
}

}  // namespace

std::vector<float> Imatrix::importance(const std::string& name, int64_t mat, int64_t n_mat, int64_t n_in) const {
  const auto it = entries.find(name);
  if (it == entries.end()) return {};
  const ImatrixEntry& e = it->second;
  // A legacy entry holds all experts' sums in one row under one count; an
  // expert whose sums are all zero was never reached.
  const bool legacy_experts = e.n_mat == 1 && n_mat > 1 && e.n_in == n_mat * n_in;
  if (!legacy_experts && (e.n_mat != n_mat || e.n_in != n_in))
    fail("importance matrix entry ", name, " is ", e.n_mat, " x ", e.n_in, ", the tensor ", n_mat, " x ", n_in);
  auto count = [&](int64_t k) {
    if (!legacy_experts) return e.counts[static_cast<size_t>(k)];
    for (int64_t j = 0; j < n_in; ++j)
      if (e.in_sum2[static_cast<size_t>(k * n_in + j)] != 0) return e.counts[0];
    return 0.0f;
  };
  std::vector<float> out(static_cast<size_t>(n_in), 0.0f);
  auto add = [&](int64_t k) {
    const float c = count(k);
    for (int64_t j = 0; j < n_in; ++j) out[static_cast<size_t>(j)] += e.in_sum2[static_cast<size_t>(k * n_in + j)] / c;
  };
  int used = 0;
  if (count(mat) > 0) {
    add(mat);
    used = 1;
  } else {  // never reached: the mean over the experts that were
    for (int64_t k = 0; k < n_mat; ++k)
      if (count(k) > 0) add(k), ++used;
  }
  for (float& v : out) v /= static_cast<float>(std::max(used, 1));
  // No rows, or only zero activations: nothing to weight by.
  if (std::all_of(out.begin(), out.end(), [](float v) { return v == 0; })) return {};
  return out;
}

void write_imatrix(const Imatrix& m, const std::string& path) {
  gguf::Writer w;
  w.set("general.type", gguf::Value::make_string("imatrix"));
  w.set("imatrix.datasets", gguf::Value::make_string_array(m.datasets));
  w.set("imatrix.chunk_count", gguf::Value::make_u32(m.chunk_count));
  w.set("imatrix.chunk_size", gguf::Value::make_u32(m.chunk_size));
  for (const auto& [name, e] : m.entries) {
    const auto n_in = static_cast<uint64_t>(e.n_in), n_mat = static_cast<uint64_t>(e.n_mat);
    w.add_tensor_data(name + kSum2Suffix, TensorType::F32, {n_in, n_mat}, e.in_sum2.data());
    w.add_tensor_data(name + kCountsSuffix, TensorType::F32, {1, n_mat}, e.counts.data());
  }
  w.write(path);
}

void write_imatrix_legacy(const Imatrix& m, const std::string& path) {
  std::string out;
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  auto put_i32 = [&](int64_t v) {
    const auto x = static_cast<int32_t>(v);
    put(&x, 4);
  };
  put_i32(static_cast<int64_t>(m.entries.size()));
  for (const auto& [name, e] : m.entries) {
    // One count per entry: the experts' sums are rescaled to the first
    // count so that sum / count keeps each expert's mean.
    float c0 = 0;
    for (float c : e.counts) c0 = std::max(c0, c);
    put_i32(static_cast<int64_t>(name.size()));
    put(name.data(), name.size());
    put_i32(static_cast<int64_t>(c0));
    put_i32(static_cast<int64_t>(e.in_sum2.size()));
    for (int64_t k = 0; k < e.n_mat; ++k)
      for (int64_t j = 0; j < e.n_in; ++j) {
        const float ck = e.counts[k];
        const float v = ck > 0 ? e.in_sum2[k * e.n_in + j] / ck * c0 : 0.0f;
        put(&v, 4);
      }
  }
  put_i32(m.chunk_count);
  const std::string dataset = m.datasets.empty() ? "" : m.datasets[0];
  put_i32(static_cast<int64_t>(dataset.size()));
  put(dataset.data(), dataset.size());
  write_output_file(path, out);
}

Imatrix read_imatrix(const std::string& path) {
  uint32_t magic = 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(path, ": cannot open the importance matrix");
  const size_t got = std::fread(&magic, 1, 4, f);
  std::fclose(f);
  if (got != 4) fail(path, ": too short for an importance matrix");
  return magic == gguf::kMagic ? read_gguf(path) : read_legacy(path);
}

}  // namespace frugal::quant
