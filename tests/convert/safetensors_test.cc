// The safetensors reader on files its writer makes, and on damaged headers:
// each damage is a frugal::Error naming the file and (where there is one)
// the tensor, never a crash.
#include "convert/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "base/error.h"
#include "base/fp16.h"

namespace frugal::convert {
namespace {

std::vector<uint8_t> written(const std::vector<StWriteTensor>& tensors) {
  const auto path = std::filesystem::temp_directory_path() / ("st_test_" + std::to_string(::getpid()));
  write_safetensors(path.string(), tensors);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return bytes;
}

// A file of one raw header (JSON) and `data_bytes` zero bytes after it.
std::vector<uint8_t> with_header(const std::string& json, size_t data_bytes) {
  std::vector<uint8_t> b(8);
  for (int i = 0; i < 8; ++i) b[size_t(i)] = uint8_t(uint64_t(json.size()) >> (8 * i));
  b.insert(b.end(), json.begin(), json.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsFile::parse(bytes.data(), bytes.size(), "f.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ReadsWhatItsWriterWrites) {
  const auto bytes = written({
      {.name = "a", .dtype = StDtype::kF32, .shape = {2, 3},
       .produce = [](std::span<uint8_t> out) {
         for (size_t i = 0; i < 6; ++i) {
           const float v = float(i) - 2.5f;
           std::memcpy(out.data() + 4 * i, &v, 4);
         }
       }},
      {.name = "b", .dtype = StDtype::kBF16, .shape = {3},
       .produce = [](std::span<uint8_t> out) {
         for (size_t i = 0; i < 3; ++i) {
           const uint16_t v = f32_to_bf16(float(i) * 0.5f);
           std::memcpy(out.data() + 2 * i, &v, 2);
         }
       }},
  });
  const auto f = SafetensorsFile::parse(bytes.data(), bytes.size());
  ASSERT_EQ(f.tensors().size(), 2u);
  const StTensor* a = nullptr;
  const StTensor* b = nullptr;
  for (const auto& t : f.tensors()) (t.name == "a" ? a : b) = &t;
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->dtype, StDtype::kBF16);
  std::vector<float> row(3);
  a->read_f32(3, row);
  EXPECT_EQ(row, (std::vector<float>{0.5f, 1.5f, 2.5f}));
  b->read_f32(0, row);
  EXPECT_EQ(row, (std::vector<float>{0.0f, 0.5f, 1.0f}));
}

TEST(Safetensors, DamagedHeadersAreErrorsNamingFileAndTensor) {
  const std::string ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(error_of(with_header(ok, 8)), "");
  struct Case {
    std::vector<uint8_t> bytes;
    const char* says;
  };
  auto truncated = with_header(ok, 8);
  truncated.resize(20);
  const Case cases[] = {
      {.bytes = {1, 2, 3}, .says = "shorter than the 8-byte header length"},
      {.bytes = truncated, .says = "truncated safetensors file"},
      {.bytes = with_header("{not json", 0), .says = "not valid JSON"},
      {.bytes = with_header("[1,2]", 0), .says = "not a JSON object"},
      {.bytes = with_header(ok, 4), .says = "tensor 't': data range [0, 8) lies outside the 4 bytes"},
      {.bytes = with_header(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       .says = "tensor 't': data range of 8 bytes does not hold 3 F32 elements"},
      {.bytes = with_header(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", 8),
       .says = "tensor 't': shape holds a value"},
      {.bytes = with_header(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       .says = "tensor 't': shape has too many elements"},
      {.bytes = with_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       .says = "tensor 't': data range [8, 0)"},
      {.bytes = with_header(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8), .says = "tensor 't': no dtype"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(c.bytes);
    EXPECT_NE(e.find("f.safetensors"), std::string::npos) << e;
    EXPECT_NE(e.find(c.says), std::string::npos) << e;
  }
  // A header length near 2^64 must not wrap the bounds check.
  std::vector<uint8_t> huge(16, 0xff);
  EXPECT_NE(error_of(huge).find("truncated"), std::string::npos);
}

TEST(Safetensors, OtherDtypesAreListedAndRefusedWhenRead) {
  const auto bytes = with_header(R"({"s":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", 4);
  const auto f = SafetensorsFile::parse(bytes.data(), bytes.size(), "f.safetensors");
  ASSERT_EQ(f.tensors().size(), 1u);
  std::vector<float> out(4);
  try {
    f.tensors()[0].read_f32(0, out);
    FAIL() << "read an F8_E4M3 tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 's' has dtype F8_E4M3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frugal::convert
