// requantize_file on small hand-made GGUF files: per-tensor choices, copied
// tensors, metadata, file type, values close to the source, and tensor data
// that is not aligned to its blocks' fields (alignment 1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "quant/quant.h"
#include "quant/requantize.h"

namespace frugal::quant {
namespace {

std::string temp_path(const std::string& name) {
  return (testing::TempDir() + "frugal_requantize_" + std::to_string(::getpid()) + "_" + name);
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

std::vector<float> read_floats(const gguf::Reader& r, const std::string& name) {
  const gguf::TensorInfo& t = r.tensor(name);
  std::vector<float> y(t.n_elements);
  std::vector<uint8_t> copy(t.data, t.data + t.n_bytes);  // aligned for the block fields
  dequantize_rows(t.type, copy.data(), y.data(), static_cast<int64_t>(t.rows()), static_cast<int64_t>(t.shape[0]));
  return y;
}

double relative_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    e += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    s += double(a[i]) * a[i];
  }
  return std::sqrt(e / s);
}

struct Files {
  std::string in, out;
  ~Files() {
    std::remove(in.c_str());
    std::remove(out.c_str());
  }
};

TEST(Requantize, ChoosesCopiesAndConvertsEveryTensor) {
  Files f{temp_path("in.gguf"), temp_path("out.gguf")};
  const auto w = gaussian(512 * 64, 1), odd = gaussian(96 * 8, 2), norm = gaussian(512, 3);
  std::vector<uint8_t> w_q8(row_bytes(TensorType::Q8_0, 512) * 64);
  quantize_rows(TensorType::Q8_0, w.data(), w_q8.data(), 64, 512);
  const std::vector<int32_t> ints = {1, -2, 3, 40000};
  {
    // Alignment 1: the tensors after the 3-byte odd one start at odd offsets.
    gguf::Writer wr(1);
    wr.set("general.architecture", gguf::Value::make_string("llama"));
    wr.set("general.alignment", gguf::Value::make_u32(1));
    wr.set("llama.block_count", gguf::Value::make_u32(8));
    wr.set("test.note", gguf::Value::make_string("kept"));
    const uint8_t three[3] = {7, 8, 9};
    wr.add_tensor_data("odd_bytes", TensorType::I8, {3}, three);
    wr.add_tensor_data("blk.0.attn_q.weight", TensorType::F32, {512, 64}, w.data());
    wr.add_tensor_data("blk.0.attn_v.weight", TensorType::Q8_0, {512, 64}, w_q8.data());
    wr.add_tensor_data("blk.1.attn_k.weight", TensorType::F32, {96, 8}, odd.data());
    wr.add_tensor_data("blk.0.attn_norm.weight", TensorType::F32, {512}, norm.data());
    wr.add_tensor_data("positions", TensorType::I32, {4}, ints.data());
    wr.write(f.in);
  }
  RequantizeOptions o;
  o.recipe_or_type = "q4_k_m";
  o.progress_label = "";
  const RequantizeSummary s = requantize_file(f.in, f.out, o);
  EXPECT_EQ(s.file_type, 15u);
  ASSERT_EQ(s.tensors.size(), 6u);

  const gguf::Reader r = gguf::Reader::open(f.out);
  EXPECT_EQ(r.metadata().get_string("test.note"), "kept");
  EXPECT_EQ(r.metadata().get_uint("general.file_type"), 15u);
  EXPECT_EQ(r.metadata().get_uint("llama.block_count"), 8u);
  EXPECT_EQ(r.tensor("odd_bytes").type, TensorType::I8);
  EXPECT_EQ(std::vector<uint8_t>(r.tensor("odd_bytes").data, r.tensor("odd_bytes").data + 3),
            (std::vector<uint8_t>{7, 8, 9}));
  EXPECT_EQ(r.tensor("positions").type, TensorType::I32);
  EXPECT_EQ(r.tensor("blk.0.attn_q.weight").type, TensorType::Q4_K);
  EXPECT_EQ(r.tensor("blk.0.attn_v.weight").type, TensorType::Q6_K);  // layer 0 is the first eighth of 8 layers
  EXPECT_EQ(r.tensor("blk.1.attn_k.weight").type, TensorType::Q4_0);  // 96 is not a multiple of 256
  EXPECT_EQ(r.tensor("blk.0.attn_norm.weight").type, TensorType::F32);
  EXPECT_EQ(read_floats(r, "blk.0.attn_norm.weight"), norm);
  EXPECT_LT(relative_rms(w, read_floats(r, "blk.0.attn_q.weight")), 0.09);
  EXPECT_LT(relative_rms(w, read_floats(r, "blk.0.attn_v.weight")), 0.03);  // q8_0 -> q6_k
  EXPECT_LT(relative_rms(odd, read_floats(r, "blk.1.attn_k.weight")), 0.12);

  // --keep-types: the Q8_0 tensor is copied byte for byte, the F32 ones converted.
  o.keep_quantized = true;
  requantize_file(f.in, f.out, o);
  const gguf::Reader kept = gguf::Reader::open(f.out);
  const gguf::TensorInfo& v = kept.tensor("blk.0.attn_v.weight");
  EXPECT_EQ(v.type, TensorType::Q8_0);
  EXPECT_EQ(std::vector<uint8_t>(v.data, v.data + v.n_bytes), w_q8);
  EXPECT_EQ(kept.tensor("blk.0.attn_q.weight").type, TensorType::Q4_K);
}

TEST(Requantize, BadTypeFailsBeforeWritingAnything) {
  Files f{temp_path("in2.gguf"), temp_path("out2.gguf")};
  {
    gguf::Writer wr;
    const auto w = gaussian(256 * 4, 4);
    wr.add_tensor_data("blk.0.attn_q.weight", TensorType::F32, {256, 4}, w.data());
    wr.write(f.in);
  }
  RequantizeOptions o;
  o.progress_label = "";
  for (const char* bad : {"q9_z", "q8_k", "tq1_0", ""}) {
    o.recipe_or_type = bad;
    EXPECT_THROW(requantize_file(f.in, f.out, o), Error) << bad;
    EXPECT_EQ(std::fopen(f.out.c_str(), "rb"), nullptr) << bad;
  }
  o.recipe_or_type = "q8_0";
  EXPECT_THROW(requantize_file(temp_path("missing.gguf"), f.out, o), Error);
}

}  // namespace
}  // namespace frugal::quant

namespace frugal::quant {
namespace {

// Relative RMS error of columns j % 16 == 0 (the ones the imatrix below
// marks as barely used) over rows x cols values.
double rare_column_error(const std::vector<float>& a, const std::vector<float>& b, int cols) {
  std::vector<float> ra, rb;
  for (size_t i = 0; i < a.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(cols)) % 16 == 0) ra.push_back(a[i]), rb.push_back(b[i]);
  return relative_rms(ra, rb);
}

// A column the calibration text barely activated is still encoded: with an
// imatrix whose every 16th column has a thousandth of the others' mean
// square, Q2_K keeps those columns' error near what it is without one,
// while the well-used columns' error falls.
TEST(Requantize, ImatrixFloorKeepsRarelyUsedColumns) {
  Files f{temp_path("im_in.gguf"), temp_path("im_out.gguf")};
  constexpr int kCols = 512, kRows = 64;
  const auto w = gaussian(kCols * kRows, 7);
  {
    gguf::Writer wr(32);
    wr.set("general.architecture", gguf::Value::make_string("llama"));
    wr.add_tensor_data("blk.0.ffn_down.weight", TensorType::F32, {kCols, kRows}, w.data());
    wr.write(f.in);
  }
  Imatrix m;
  ImatrixEntry e{.n_in = kCols, .n_mat = 1, .in_sum2 = {}, .counts = {10}};
  for (int j = 0; j < kCols; ++j) e.in_sum2.push_back(j % 16 == 0 ? 0.01f : 10.0f);
  m.entries["blk.0.ffn_down.weight"] = e;
  RequantizeOptions o;
  o.recipe_or_type = "q2_k";
  o.progress_label = "";
  requantize_file(f.in, f.out, o);
  const auto plain = read_floats(gguf::Reader::open(f.out), "blk.0.ffn_down.weight");
  o.imatrix = &m;
  requantize_file(f.in, f.out, o);
  const auto weighted = read_floats(gguf::Reader::open(f.out), "blk.0.ffn_down.weight");
  const double rare_plain = rare_column_error(w, plain, kCols), rare_weighted = rare_column_error(w, weighted, kCols);
  EXPECT_LT(rare_weighted, 1.15 * rare_plain) << rare_plain;
  EXPECT_LT(relative_rms(w, weighted), 1.05 * relative_rms(w, plain));
}

}  // namespace
}  // namespace frugal::quant
