// Importance matrix files: the GGUF form round trips with its keys, tensor
// names and shapes; the legacy .dat form reads back to the same per-expert
// importance; experts no row reached take the mean of the others; bad files
// are refused by name. Quantising with importance from a file lowers the
// importance-weighted error when some columns matter more.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "gguf/reader.h"
#include "quant/imatrix_file.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

std::string temp_path(const char* name) { return testing::TempDir() + "frugal_imatrix_" + name; }

// A plain 256-column matrix and a stack of 3 experts of 256 columns, the
// second expert never reached.
Imatrix sample() {
  Imatrix m;
  m.datasets = {"calib.txt"};
  m.chunk_count = 7;
  m.chunk_size = 128;
  ImatrixEntry plain{.n_in = 256, .n_mat = 1, .in_sum2 = {}, .counts = {10}};
  for (int j = 0; j < 256; ++j) plain.in_sum2.push_back(static_cast<float>(j + 1));
  ImatrixEntry experts{.n_in = 256, .n_mat = 3, .in_sum2 = {}, .counts = {4, 0, 2}};
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 256; ++j) experts.in_sum2.push_back(k == 1 ? 0.0f : static_cast<float>((k + 1) * (j % 5 + 1)));
  m.entries["blk.0.attn_q.weight"] = plain;
  m.entries["blk.0.ffn_up_exps.weight"] = experts;
  return m;
}

TEST(Imatrix, GgufRoundTripKeysAndShapes) {
  const Imatrix m = sample();
  const std::string path = temp_path("rt.gguf");
  write_imatrix(m, path);
  const gguf::Reader r = gguf::Reader::open(path);
  EXPECT_EQ(r.metadata().get_string("general.type"), "imatrix");
  EXPECT_EQ(r.metadata().get_uint("imatrix.chunk_count"), 7u);
  EXPECT_EQ(r.metadata().get_uint("imatrix.chunk_size"), 128u);
  EXPECT_EQ(r.tensor("blk.0.ffn_up_exps.weight.in_sum2").shape, (std::vector<uint64_t>{256, 3}));
  EXPECT_EQ(r.tensor("blk.0.ffn_up_exps.weight.counts").shape, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(r.tensor("blk.0.attn_q.weight.in_sum2").shape, (std::vector<uint64_t>{256, 1}));

  const Imatrix back = read_imatrix(path);
  EXPECT_EQ(back.datasets, m.datasets);
  EXPECT_EQ(back.chunk_count, 7u);
  ASSERT_EQ(back.entries.size(), 2u);
  for (const auto& [name, e] : m.entries) {
    const ImatrixEntry& b = back.entries.at(name);
    EXPECT_EQ(b.n_in, e.n_in);
    EXPECT_EQ(b.n_mat, e.n_mat);
    EXPECT_EQ(b.in_sum2, e.in_sum2);
    EXPECT_EQ(b.counts, e.counts);
  }
  std::remove(path.c_str());
}

TEST(Imatrix, ImportanceIsTheMeanSquareWithFallback) {
  const Imatrix m = sample();
  const auto plain = m.importance("blk.0.attn_q.weight", 0, 1, 256);
  ASSERT_EQ(plain.size(), 256u);
  EXPECT_FLOAT_EQ(plain[9], 1.0f);  // 10 / 10 rows
  const auto e0 = m.importance("blk.0.ffn_up_exps.weight", 0, 3, 256);
  const auto e1 = m.importance("blk.0.ffn_up_exps.weight", 1, 3, 256);  // never reached
  const auto e2 = m.importance("blk.0.ffn_up_exps.weight", 2, 3, 256);
  EXPECT_FLOAT_EQ(e0[3], 4.0f / 4);
  EXPECT_FLOAT_EQ(e2[3], 12.0f / 2);
  for (int j = 0; j < 256; ++j) EXPECT_FLOAT_EQ(e1[j], (e0[j] + e2[j]) / 2) << j;
  EXPECT_TRUE(m.importance("output.weight", 0, 1, 256).empty());
  EXPECT_THROW(m.importance("blk.0.attn_q.weight", 0, 1, 512), Error);
}

TEST(Imatrix, LegacyDatRoundTrip) {
  const Imatrix m = sample();
  const std::string path = temp_path("rt.dat");
  write_imatrix_legacy(m, path);
  const Imatrix back = read_imatrix(path);
  EXPECT_EQ(back.datasets, m.datasets);
  EXPECT_EQ(back.chunk_count, 7u);
  for (const char* name : {"blk.0.attn_q.weight", "blk.0.ffn_up_exps.weight"}) {
    const int64_t n_mat = m.entries.at(name).n_mat;
    for (int64_t k = 0; k < n_mat; ++k) {
      const auto want = m.importance(name, k, n_mat, 256), got = back.importance(name, k, n_mat, 256);
      ASSERT_EQ(got.size(), want.size()) << name << " " << k;
      for (size_t j = 0; j < want.size(); ++j) EXPECT_FLOAT_EQ(got[j], want[j]) << name << " " << k << " " << j;
    }
  }
  std::remove(path.c_str());
}

TEST(Imatrix, BadFilesAreRefused) {
  EXPECT_THROW(read_imatrix(temp_path("missing")), Error);
  const std::string path = temp_path("bad.dat");
  write_imatrix_legacy(sample(), path);
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  const int32_t huge = 1 << 30;  // the first entry's name length
  std::fseek(f, 4, SEEK_SET);
  std::fwrite(&huge, 4, 1, f);
  std::fclose(f);
  EXPECT_THROW(read_imatrix(path), Error);
  std::remove(path.c_str());
}

// Activations whose every fourth column is 30 times larger: the importance from
// the file lowers the importance-weighted error of each searched type.
TEST(Imatrix, ImportanceLowersTheWeightedError) {
  std::mt19937 rng(9);
  std::normal_distribution<float> g;
  const int n = 1024, rows = 8;
  std::vector<float> w(static_cast<size_t>(n * rows));
  for (float& v : w) v = g(rng);
  Imatrix m;
  ImatrixEntry e{.n_in = n, .n_mat = 1, .in_sum2 = {}, .counts = {100}};
  for (int j = 0; j < n; ++j) e.in_sum2.push_back(100.0f * (j % 4 == 0 ? 900.0f : 1.0f));
  m.entries["w"] = e;
  const auto imp = m.importance("w", 0, 1, n);
  for (TensorType t : {TensorType::Q2_K, TensorType::Q4_K, TensorType::IQ2_XXS, TensorType::IQ3_XXS,
                       TensorType::IQ1_S, TensorType::IQ4_XS}) {
    auto weighted_error = [&](const float* importance) {
      std::vector<uint8_t> q(row_bytes(t, n));
      std::vector<float> y(n);
      double err = 0;
      for (int r = 0; r < rows; ++r) {
        quantize_row(t, w.data() + r * n, q.data(), n, importance);
        dequantize_row(t, q.data(), y.data(), n);
        for (int j = 0; j < n; ++j) {
          const double d = double(w[r * n + j]) - y[j];
          err += imp[j] * d * d;
        }
      }
      return err;
    };
    const double with = weighted_error(imp.data()), without = weighted_error(nullptr);
    std::printf("  %-8s weighted error with importance %.1f, without %.1f\n", tensor_type_name(t), with, without);
    EXPECT_LT(with, without) << tensor_type_name(t);
  }
}

}  // namespace
}  // namespace frugal::quant
