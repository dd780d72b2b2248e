// The safetensors reader on files its writer makes, and on damaged headers:
// each damage is a frugal::Error naming the file and (where there is one)
// the tensor, never a crash.
#include "convert/fp8_blocks.h"
#include "convert/mxfp4_layout.h"
#include "convert/safetensors.h"

#include <cmath>
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
  // F8_E4M3 alone too: its values mean nothing without the block scales.
  for (const char* dtype : {"I8", "U8", "F8_E4M3"}) {
    const auto bytes = with_header(std::string(R"({"s":{"dtype":")") + dtype +
                                       R"(","shape":[4],"data_offsets":[0,4]}})",
                                   4);
    const auto f = SafetensorsFile::parse(bytes.data(), bytes.size(), "f.safetensors");
    ASSERT_EQ(f.tensors().size(), 1u);
    std::vector<float> out(4);
    try {
      f.tensors()[0].read_f32(0, out);
      FAIL() << "read an " << dtype << " tensor";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("tensor 's' has dtype ") + dtype), std::string::npos)
          << e.what();
    }
  }
}

TEST(Fp8Blocks, DecodesAndEncodesEveryValue) {
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0xfe), -448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), 0x1p-9f);  // the smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), 0x1p-6f);  // the smallest normal
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7f)));
  for (int b = 0; b < 256; ++b) {
    if ((b & 127) == 127) continue;  // NaN
    EXPECT_EQ(f32_to_fp8_e4m3(fp8_e4m3_to_f32(uint8_t(b))), b) << b;
  }
  EXPECT_EQ(f32_to_fp8_e4m3(1000.0f), 0x7e);   // saturates
  EXPECT_EQ(f32_to_fp8_e4m3(1.0625f), 0x38);   // halfway between 1 and 1.125: to the even code
  EXPECT_EQ(f32_to_fp8_e4m3(1.0626f), 0x39);
}

TEST(Fp8Blocks, ReadsEachBlockWithItsScale) {
  // A 5x3 matrix in 2x2 blocks: scales [3, 2]; element (r, c) = code * scale.
  const Fp8Blocks b{.rows = 2, .cols = 2};
  ASSERT_EQ(fp8_scale_shape({5, 3}, b), (std::vector<int64_t>{3, 2}));
  std::vector<float> w(15);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i) - 7.0f;
  std::vector<uint8_t> q(15);
  std::vector<float> scales(6);
  quantize_fp8_blocks(w, 5, 3, b, q, scales);
  StTensor wt{.name = "w", .dtype = StDtype::kF8E4M3, .dtype_name = "F8_E4M3", .shape = {5, 3}, .data = q.data(),
              .n_bytes = 15, .file = "f"};
  StTensor st{.name = "s", .dtype = StDtype::kF32, .dtype_name = "F32", .shape = {3, 2},
              .data = reinterpret_cast<const uint8_t*>(scales.data()), .n_bytes = 24, .file = "f"};
  std::vector<float> out(15);
  read_fp8_scaled(wt, st, b, 0, out);
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(out[i], w[i], std::fabs(w[i]) / 16 + 1e-6) << i;
  EXPECT_EQ(out[14], 7.0f);  // each block's largest magnitude is exact
  std::vector<float> part(4);
  read_fp8_scaled(wt, st, b, 5, part);  // rows 1-2 across a block boundary
  for (size_t i = 0; i < part.size(); ++i) EXPECT_EQ(part[i], out[5 + i]);
}

TEST(Fp8Blocks, DeepseekV4ScalesArePowersOfTwoNamedBesideTheWeight) {
  EXPECT_EQ(fp8_scale_name("layers.0.attn.wq_a.weight"), "layers.0.attn.wq_a.weight_scale_inv");
  EXPECT_EQ(fp8_scale_name("layers.0.attn.wq_a.weight", Fp8ScaleName::kScale), "layers.0.attn.wq_a.scale");
  // E8M0: byte b is 2^(b - 127), 255 NaN.
  const uint8_t bytes[] = {127, 130, 120, 255};
  StTensor e{.name = "s", .dtype = StDtype::kE8M0, .dtype_name = "F8_E8M0", .shape = {4}, .data = bytes,
             .n_bytes = 4, .file = "f"};
  std::vector<float> v(4);
  e.read_f32(0, v);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 8.0f);
  EXPECT_EQ(v[2], 0x1p-7f);
  EXPECT_TRUE(std::isnan(v[3]));
  // pow2_scales: each block's scale the power of two at or above amax / 448.
  const Fp8Blocks b{.rows = 1, .cols = 2};
  const std::vector<float> w = {100.0f, -900.0f, 0.5f, 0.25f};
  std::vector<uint8_t> q(4);
  std::vector<float> scales(2);
  quantize_fp8_blocks(w, 2, 2, b, q, scales, true);
  EXPECT_EQ(scales[0], 4.0f);  // 900 / 448 = 2.01 -> 4
  EXPECT_EQ(scales[1], 0x1p-9f);  // 0.5 / 448 = 2^-9.8 -> 2^-9
  EXPECT_EQ(fp8_e4m3_to_f32(q[1]) * scales[0], -896.0f);  // -225 to the nearest fp8, 224
}

TEST(Mxfp4Layout, CheckpointBlocksAndGgufBlocksHoldTheSameCodes) {
  // Checkpoint byte j: code 2j low, 2j + 1 high; GGUF byte j: code j low, j + 16 high.
  uint8_t hf[16];
  for (int j = 0; j < 16; ++j) hf[j] = uint8_t((2 * j) % 16 | (((2 * j + 1) % 16) << 4));  // code i = i % 16
  quant::BlockMXFP4 g{};
  mxfp4_block_from_hf(hf, 130, g);
  EXPECT_EQ(g.e, 130);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(g.qs[j], uint8_t(j | (j << 4))) << j;  // codes j and j + 16 are both j
  uint8_t back[16], scale = 0;
  mxfp4_block_to_hf(g, back, &scale);
  EXPECT_EQ(scale, 130);
  EXPECT_EQ(std::memcmp(back, hf, 16), 0);
}

}  // namespace
}  // namespace frugal::convert
