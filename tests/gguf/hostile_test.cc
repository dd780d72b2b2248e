// Hand-built GGUF files, valid and hostile. Every bad file must give a
// frugal::Error whose message names the problem and where it is; none may
// crash, hang or allocate in proportion to a count the file claims.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/error.h"
#include "gguf/reader.h"
#include "gguf/writer.h"

namespace frugal::gguf {
namespace {

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& pad_to(size_t alignment) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

Bytes header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  Bytes h;
  h.u32(kMagic).u32(version).u64(n_tensors).u64(n_kv);
  return h;
}

// One tensor info: name, dims, type, offset.
void tensor_info(Bytes& b, const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
  b.str(name).u32(static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) b.u64(d);
  b.u32(type).u64(offset);
}

Reader parse(const Bytes& b) { return Reader::parse(b.b.data(), b.b.size(), "test.gguf"); }

// Expects a frugal::Error containing every fragment.
void expect_error(const Bytes& b, std::vector<std::string> fragments) {
  try {
    parse(b);
    ADD_FAILURE() << "no error; expected: " << fragments[0];
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "message: " << msg << "\nmissing: " << f;
  }
}

// A small valid file: two keys, two tensors (f32 [4] and q8_0 [32, 2]).
Bytes small_valid(uint32_t version) {
  Bytes b = header(version, 2, 2);
  b.str("general.architecture").u32(8).str("llama");
  b.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("a").str("bc");
  tensor_info(b, "x.weight", {4}, 0, 0);
  tensor_info(b, "q.weight", {32, 2}, 8, 32);
  b.pad_to(32);
  for (int k = 0; k < 4; ++k) b.put<float>(static_cast<float>(k));
  b.zeros(16);
  b.zeros(68);
  return b;
}

TEST(GgufHostile, SmallValidFileV2AndV3) {
  for (uint32_t v : {2u, 3u}) {
    Bytes b = small_valid(v);
    Reader r = parse(b);
    EXPECT_EQ(r.version(), v);
    EXPECT_EQ(r.architecture(), "llama");
    EXPECT_EQ(r.metadata().get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "bc"}));
    ASSERT_EQ(r.tensors().size(), 2u);
    const float* x = reinterpret_cast<const float*>(r.tensor("x.weight").data);
    EXPECT_EQ(x[3], 3.0f);
    EXPECT_EQ(r.tensor("q.weight").n_bytes, 68u);
    EXPECT_EQ(r.tensor("q.weight").data - b.b.data(), static_cast<ptrdiff_t>(r.data_offset() + 32));
  }
}

TEST(GgufHostile, TruncatedAtEveryByte) {
  const Bytes full = small_valid(3);
  const Reader r = parse(full);
  const size_t needed = r.data_offset() + 32 + 68;  // end of the last tensor's data
  for (size_t n = 0; n < full.b.size(); ++n) {
    std::vector<uint8_t> part(full.b.begin(), full.b.begin() + static_cast<ptrdiff_t>(n));
    if (n >= needed) {
      EXPECT_NO_THROW(Reader::parse(part.data(), n, "cut.gguf")) << n;
      continue;
    }
    try {
      Reader::parse(part.data(), n, "cut.gguf");
      ADD_FAILURE() << "truncated at " << n << " parsed";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("cut.gguf"), std::string::npos) << msg;
      const bool names_place = msg.find("offset") != std::string::npos;
      EXPECT_TRUE(names_place) << msg;
    }
  }
}

TEST(GgufHostile, BadMagicAndVersion) {
  Bytes b = small_valid(3);
  b.b[0] = 'X';
  expect_error(b, {"bad magic", "offset 0"});
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    Bytes c = small_valid(3);
    std::memcpy(c.b.data() + 4, &v, 4);
    expect_error(c, {"version", "offset 4"});
  }
  Bytes be = small_valid(3);
  const uint32_t swapped = 0x03000000u;
  std::memcpy(be.b.data() + 4, &swapped, 4);
  expect_error(be, {"big-endian"});
}

TEST(GgufHostile, HugeCounts) {
  expect_error(header(3, std::numeric_limits<uint64_t>::max(), 0), {"tensor count", "offset 8"});
  expect_error(header(3, 1ull << 40, 0), {"tensor count"});
  expect_error(header(3, 0, 1ull << 62), {"key-value count", "offset 16"});
}

TEST(GgufHostile, HugeStringAndArrayLengths) {
  Bytes key = header(3, 0, 1);
  key.u64(std::numeric_limits<uint64_t>::max()).zeros(16);
  expect_error(key, {"metadata key 0 length", "offset 24"});

  Bytes val = header(3, 0, 1);
  val.str("k").u32(8).u64(1ull << 50).zeros(8);
  expect_error(val, {"metadata value 'k'", "length", "offset 37"});

  Bytes arr = header(3, 0, 1);
  arr.str("k").u32(9).u32(4).u64(1ull << 61).zeros(64);
  expect_error(arr, {"metadata value 'k' length", "cannot fit"});

  // Array of strings claiming more strings than 8-byte lengths could fit.
  Bytes sarr = header(3, 0, 1);
  sarr.str("k").u32(9).u32(8).u64(5).zeros(39);
  expect_error(sarr, {"cannot fit"});

  // Deeply nested arrays stop at a fixed depth, not at stack exhaustion.
  Bytes deep = header(3, 0, 1);
  deep.str("k").u32(9);
  for (int k = 0; k < 10000; ++k) deep.u32(9).u64(1);
  deep.u32(4).u64(0);
  expect_error(deep, {"nested"});
}

TEST(GgufHostile, BadValueType) {
  Bytes b = header(3, 0, 1);
  b.str("k").u32(13).u32(0);
  expect_error(b, {"not a GGUF value type", "offset 33"});
  Bytes a = header(3, 0, 1);
  a.str("k").u32(9).u32(99).u64(0);
  expect_error(a, {"element type"});
}

TEST(GgufHostile, DuplicateKeyAndBadAlignment) {
  Bytes dup = header(3, 0, 2);
  dup.str("k").u32(4).u32(1).str("k").u32(4).u32(2);
  expect_error(dup, {"duplicate metadata key 'k'"});
  for (uint32_t bad : {0u, 3u, 48u}) {
    Bytes al = header(3, 0, 1);
    al.str("general.alignment").u32(4).u32(bad);
    expect_error(al, {"general.alignment"});
  }
  Bytes wrong_type = header(3, 0, 1);
  wrong_type.str("general.alignment").u32(8).str("32");
  expect_error(wrong_type, {"general.alignment"});
}

Bytes one_tensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data_bytes) {
  Bytes b = header(3, 1, 0);
  tensor_info(b, "t", std::move(dims), type, offset);
  b.pad_to(32).zeros(data_bytes);
  return b;
}

TEST(GgufHostile, TensorChecks) {
  EXPECT_NO_THROW(parse(one_tensor({8, 2}, 0, 0, 64)));
  expect_error(one_tensor({8, 2}, 0, 0, 63), {"tensor 't' data", "past the end"});
  expect_error(one_tensor({8}, 0, 32, 32), {"past the end"});
  expect_error(one_tensor({8}, 0, std::numeric_limits<uint64_t>::max() - 31, 32), {"past the end"});
  expect_error(one_tensor({8}, 0, 4, 64), {"not a multiple of the alignment"});
  expect_error(one_tensor({1ull << 32, 1ull << 32}, 0, 0, 0), {"overflows", "dimension 1"});
  expect_error(one_tensor({1ull << 62, 4}, 28, 0, 0), {"overflows"});
  expect_error(one_tensor({1ull << 62}, 28, 0, 0), {"overflows"});
  expect_error(one_tensor({8}, 5, 0, 64), {"unknown type id 5"});
  expect_error(one_tensor({8}, 1000, 0, 64), {"unknown type id 1000"});
  // frugal's first Q5_K_R16 and Q6_K_R16 layouts: refused with advice, not misread.
  expect_error(one_tensor({256, 16}, 1014, 0, 64), {"type id 1014", "earlier layout", "frugal quantize --repack"});
  expect_error(one_tensor({256, 16}, 1013, 0, 64), {"type id 1013", "earlier layout"});
  expect_error(one_tensor({}, 0, 0, 64), {"0 dimensions"});
  expect_error(one_tensor({1, 1, 1, 1, 1}, 0, 0, 64), {"5 dimensions"});
  expect_error(one_tensor({8, 0}, 0, 0, 64), {"dimension 1 is 0"});
  expect_error(one_tensor({33}, 2, 0, 64), {"row length 33", "block size of q4_0"});

  Bytes n = header(3, 1, 0);
  n.u32(0xffffffff).zeros(40);  // n_dims as a huge number where the name is (read as length)
  EXPECT_THROW(parse(n), Error);

  Bytes dup = header(3, 2, 0);
  tensor_info(dup, "t", {8}, 0, 0);
  tensor_info(dup, "t", {8}, 0, 32);
  dup.pad_to(32).zeros(64);
  expect_error(dup, {"duplicate tensor 't'"});
}

TEST(GgufHostile, RealFileTruncatedOnDisk) {
  // The mmap path gives the same errors as the buffer path.
  const std::string path = testing::TempDir() + "/gguf_hostile_" + std::to_string(::getpid()) + ".gguf";
  Writer w;
  w.set("general.architecture", Value::make_string("llama"));
  std::vector<float> x(64, 1.0f);
  w.add_tensor_data("x", TensorType::F32, {64}, x.data());
  w.write(path);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(Reader::open(path).file_size() - 8)), 0);
  try {
    Reader::open(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("past the end"), std::string::npos) << e.what();
  }
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  EXPECT_THROW(Reader::open(path), Error);
  ::unlink(path.c_str());
  EXPECT_THROW(Reader::open(path), Error);  // missing file
}

}  // namespace
}  // namespace frugal::gguf
