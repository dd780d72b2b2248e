// matmul at every SIMD level this CPU has, for every weight type with a
// kernel, against matmul_reference (dequantised weights, f64 dot products)
// on fresh random data; and each SIMD kernel against its scalar twin.
//
// Tolerances. The integer kernels round each activation to int8 with the
// step d = max|x| / 127 of its block (32 or 256 values), which moves it by at
// most d / 2; so an output moves by at most sum over blocks of
// d_b / 2 * sum_{i in b} |w_i|, computed here for every output from the very
// data used (matmul_tolerance). bf16 activations (8 significant bits) move by at most 2^-8 |x_i| each, so by
// 2^-8 * sum |w_i x_i|. Float sums in f32 add at most n * 2^-24 * sum |w_i x_i|.
// A kernel that reads a wrong nibble, scale or sign misses by the order of
// sum |w_i x_i| itself, far outside these bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "base/error.h"
#include "base/fp16.h"
#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quantize_activations.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "random_data.h"

namespace frugal::kernels {
namespace {

using test_data::available_levels;
using test_data::random_rows;
using test_data::random_scale;
using test_data::random_weights;
using test_data::test_seed;

const TensorType kTypes[] = {TensorType::Q8_0,   TensorType::Q4_0,   TensorType::Q5_0,   TensorType::Q2_K,
                             TensorType::Q3_K,   TensorType::Q4_K,   TensorType::Q5_K,   TensorType::Q6_K,
                             TensorType::IQ4_XS, TensorType::IQ4_NL, TensorType::BF16,   TensorType::F16,
                             TensorType::F32,    TensorType::MXFP4};

std::vector<int64_t> input_sizes(TensorType t) {
  switch (tensor_type_info(t).block_size) {
    case 1: return {7, 40, 300};
    case 32: return {32, 96, 544};
    default: return {256, 768};
  }
}

TEST(Matmul, EveryTypeAndLevelMatchesReference) {
  std::mt19937 rng(test_seed());
  ThreadPool pool(2);
  for (TensorType t : kTypes) {
    for (int64_t n_in : input_sizes(t)) {
      for (int64_t n_out : {1, 7, 37}) {
        const auto weights = random_weights(t, n_out, n_in, rng);
        const WeightMatrix W{t, weights.data(), n_out, n_in};
        std::vector<float> deq(static_cast<size_t>(n_out * n_in));
        quant::dequantize_rows(t, weights.data(), deq.data(), n_out, n_in);
        for (int64_t n_rows : {1, 2, 3, 5, 17, 64}) {
          const int64_t ldx = n_in + 3, ldy = n_out + 2;  // strides wider than the rows
          const auto X = random_rows(n_rows, ldx, rng);
          std::vector<float> ref(static_cast<size_t>(n_rows * ldy), 0.0f);
          matmul_reference(W, X.data(), ldx, n_rows, ref.data(), ldy);
          for (SimdLevel level : available_levels()) {
            for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
              SCOPED_TRACE(testing::Message() << tensor_type_name(t) << " level " << simd_level_name(level)
                                              << " n_in " << n_in << " n_out " << n_out << " n_rows " << n_rows
                                              << (p ? " pool" : " no pool") << " seed " << test_seed());
              std::vector<float> Y(static_cast<size_t>(n_rows * ldy), -7.0f);
              matmul_at_level(level, W, X.data(), ldx, n_rows, Y.data(), ldy, p);
              for (int64_t r = 0; r < n_rows; ++r) {
                for (int64_t o = 0; o < n_out; ++o) {
                  const double bound = matmul_tolerance(t, deq.data() + o * n_in, X.data() + r * ldx, n_in);
                  ASSERT_NEAR(Y[r * ldy + o], ref[r * ldy + o], bound) << "row " << r << " out " << o;
                }
                for (int64_t o = n_out; o < ldy; ++o) ASSERT_EQ(Y[r * ldy + o], -7.0f) << "wrote past n_out";
              }
            }
          }
        }
      }
    }
  }
}

// Every type frugal quantise writes has a kernel at every level, so none is
// multiplied by the dequantising path (a float row per weight row per call,
// which ran Q2_K and Q3_K 30 to 50 times slower than Q4_K in frugal bench on
// the bundled model). The exceptions: Q4_1 and Q5_1 (legacy types no recipe
// uses) and Q8_K (an activation encoding, not a weight type).
TEST(Matmul, EveryQuantisedWeightTypeHasAKernel) {
  for (uint32_t id = 0; id < 2048; ++id) {
    const auto info = tensor_type_info(id);
    if (!info || !quant::can_quantize(info->type)) continue;
    const TensorType t = info->type;
    if (t == TensorType::Q4_1 || t == TensorType::Q5_1 || t == TensorType::Q8_K) continue;
    EXPECT_NE(scalar_kernel(t), nullptr) << tensor_type_name(t);
    for (SimdLevel level : available_levels()) {
      EXPECT_NE(find_kernel(t, level), nullptr) << tensor_type_name(t) << " at " << simd_level_name(level);
    }
  }
}

// Each SIMD kernel called directly against its scalar twin on the same
// encoded activations, for 1..4 activation rows: the integer sums are the
// same, so only f32 summation order may differ.
TEST(Matmul, SimdKernelsMatchTheirScalarTwins) {
  std::mt19937 rng(test_seed() + 1);
  for (TensorType t : kTypes) {
    const TypeKernel* twin = scalar_kernel(t);
    ASSERT_NE(twin, nullptr) << tensor_type_name(t);
    for (SimdLevel level : available_levels()) {
      const TypeKernel* k = find_kernel(t, level);
      ASSERT_NE(k, nullptr) << tensor_type_name(t) << " at " << simd_level_name(level);
      ASSERT_EQ(k->act, twin->act);
      for (int64_t n_in : input_sizes(t)) {
        const auto weights = random_weights(t, 1, n_in, rng);
        const auto X = random_rows(kMaxActRows, n_in, rng);
        size_t stride = static_cast<size_t>(n_in) * sizeof(float);
        std::vector<uint8_t> act(X.size() * sizeof(float));
        std::memcpy(act.data(), X.data(), act.size());
        if (k->act != ActFormat::kF32) {
          stride = act_row_bytes(k->act, n_in);
          act.assign(stride * kMaxActRows, 0);
          for (int r = 0; r < kMaxActRows; ++r) encode_act_row(k->act, X.data() + r * n_in, act.data() + r * stride, n_in);
        }
        std::vector<float> deq(static_cast<size_t>(n_in));
        quant::dequantize_row(t, weights.data(), deq.data(), n_in);
        for (int n_act = 1; n_act <= kMaxActRows; ++n_act) {
          SCOPED_TRACE(testing::Message() << tensor_type_name(t) << " level " << simd_level_name(level) << " n_in "
                                          << n_in << " n_act " << n_act << " seed " << test_seed());
          float y_simd[kMaxActRows * 3], y_twin[kMaxActRows * 3];
          k->dot(weights.data(), act.data(), stride, n_act, n_in, y_simd, 3);
          twin->dot(weights.data(), act.data(), stride, n_act, n_in, y_twin, 3);
          for (int r = 0; r < n_act; ++r) {
            double abs_dot = 0;
            for (int64_t i = 0; i < n_in; ++i) abs_dot += std::fabs(deq[i] * X[r * n_in + i]);
            ASSERT_NEAR(y_simd[r * 3], y_twin[r * 3], abs_dot * 1e-5 + 1e-30) << "row " << r;
          }
        }
      }
    }
  }
}

// The decode kernels over four weight rows and 1-4 activation rows give the
// same bits as the row kernel called for each weight row and each activation
// row alone (see rows4 in matmul_rows4_x86-inl.h): a sequence's logits do not
// depend on which others share its step.
TEST(Matmul, FourRowKernelsMatchTheRowKernelExactly) {
  std::mt19937 rng(test_seed() + 5);
  int tested = 0;
  for (TensorType t : kTypes) {
    for (SimdLevel level : available_levels()) {
      const TypeKernel* k = find_kernel(t, level);
      if (!k->dot4) continue;
      ++tested;
      for (int64_t n_in : input_sizes(t)) {
        for (int n_act = 1; n_act <= kMaxActRows; ++n_act) {
          const auto weights = random_weights(t, 4, n_in, rng);
          const size_t rb = row_bytes(t, n_in);
          const auto X = random_rows(n_act, n_in, rng);
          const size_t stride = act_row_bytes(k->act, n_in);
          std::vector<uint8_t> act(stride * n_act);
          for (int r = 0; r < n_act; ++r) encode_act_row(k->act, X.data() + r * n_in, act.data() + r * stride, n_in);
          constexpr int64_t ldy = 6;  // not 4: rows of y apart
          float y4[kMaxActRows * ldy], y1;
          k->dot4(weights.data(), rb, act.data(), stride, n_act, n_in, y4, ldy);
          for (int r = 0; r < n_act; ++r) {
            for (int o = 0; o < 4; ++o) {
              k->dot(weights.data() + o * rb, act.data() + r * stride, stride, 1, n_in, &y1, 1);
              EXPECT_EQ(y4[r * ldy + o], y1) << tensor_type_name(t) << " level " << simd_level_name(level) << " n_in "
                                             << n_in << " activation row " << r << " of " << n_act << " weight row "
                                             << o << " seed " << test_seed();
            }
          }
        }
      }
    }
  }
  if (detected_simd_level() >= SimdLevel::kAvx2) {
    EXPECT_GT(tested, 0);
  }
}

// The prefill tile kernels (24 outputs x all rows in one call)
// against the scalar twin's row kernel, on the same encoded activations.
TEST(Matmul, GemmTilesMatchTheScalarTwin) {
  std::mt19937 rng(test_seed() + 6);
  int tested = 0;
  for (TensorType t : kTypes) {
    for (SimdLevel level : available_levels()) {
      const TypeKernel* k = find_kernel(t, level);
      if (!k->gemm_tile) continue;
      ++tested;
      for (int64_t n_in : input_sizes(t)) {
        const int64_t n_rows = 11;  // two groups of 4 and a short one
        constexpr int64_t n_out = 3 * kGemmTile;  // one call: a tile of 16 rows and one of 8 at the avx512 level
        const auto weights = random_weights(t, n_out, n_in, rng);
        const size_t rb = row_bytes(t, n_in);
        const auto X = random_rows(n_rows, n_in, rng);
        const size_t stride = act_row_bytes(k->act, n_in);
        std::vector<uint8_t> act(stride * n_rows);
        for (int64_t r = 0; r < n_rows; ++r) encode_act_row(k->act, X.data() + r * n_in, act.data() + r * stride, n_in);
        const int64_t ldy = n_out + 3;
        std::vector<float> y(n_rows * ldy, -7.0f), want(n_rows * ldy, -7.0f);
        k->gemm_tile(weights.data(), rb, n_out, act.data(), stride, n_rows, n_in, y.data(), ldy);
        for (int64_t r = 0; r < n_rows; ++r) {
          for (int o = 0; o < n_out; ++o) {
            scalar_kernel(t)->dot(weights.data() + o * rb, act.data() + r * stride, stride, 1, n_in,
                                  &want[r * ldy + o], 1);
          }
        }
        std::vector<float> deq(n_out * n_in);
        quant::dequantize_rows(t, weights.data(), deq.data(), n_out, n_in);
        for (int64_t r = 0; r < n_rows; ++r) {
          for (int64_t o = 0; o < ldy; ++o) {
            SCOPED_TRACE(testing::Message() << tensor_type_name(t) << " level " << simd_level_name(level) << " n_in "
                                            << n_in << " row " << r << " out " << o << " seed " << test_seed());
            if (o >= n_out) {
              ASSERT_EQ(y[r * ldy + o], -7.0f) << "wrote past the tiles";
              continue;
            }
            double abs_dot = 0;
            for (int64_t i = 0; i < n_in; ++i) abs_dot += std::fabs(deq[o * n_in + i] * X[r * n_in + i]);
            ASSERT_NEAR(y[r * ldy + o], want[r * ldy + o], abs_dot * 1e-5 + 1e-30);
          }
        }
      }
    }
  }
  if (detected_simd_level() >= SimdLevel::kAvx2) {  // both levels have tiles for the k-quants
    EXPECT_GT(tested, 0);
  }
}

// A row's result does not depend on the rows beside it: a batch, the same
// rows one at a time and in other groupings give the same bits (so batch,
// chunked and incremental passes of a model agree exactly), whichever of
// row kernels and prefill tiles compute them.
TEST(Matmul, ResultsDoNotDependOnTheBatch) {
  std::mt19937 rng(test_seed() + 7);
  ThreadPool pool(2);
  for (TensorType t : kTypes) {
    const int64_t n_in = input_sizes(t).back(), n_out = 37, n_rows = 40;
    const auto weights = random_weights(t, n_out, n_in, rng);
    const WeightMatrix W{t, weights.data(), n_out, n_in};
    const auto X = random_rows(n_rows, n_in, rng);
    for (SimdLevel level : available_levels()) {
      SCOPED_TRACE(testing::Message() << tensor_type_name(t) << " level " << simd_level_name(level) << " seed "
                                      << test_seed());
      std::vector<float> batch(n_rows * n_out), single(n_rows * n_out), chunked(n_rows * n_out);
      matmul_at_level(level, W, X.data(), n_in, n_rows, batch.data(), n_out, &pool);
      for (int64_t r = 0; r < n_rows; ++r) {
        matmul_at_level(level, W, X.data() + r * n_in, n_in, 1, single.data() + r * n_out, n_out, nullptr);
      }
      for (int64_t r = 0; r < n_rows; r += 13) {
        const int64_t n = std::min<int64_t>(13, n_rows - r);
        matmul_at_level(level, W, X.data() + r * n_in, n_in, n, chunked.data() + r * n_out, n_out, nullptr);
      }
      EXPECT_EQ(batch, single);
      EXPECT_EQ(batch, chunked);
    }
  }
}

// The activation encodings against their definitions.
TEST(Matmul, ActivationEncodingRoundsWithinHalfAStep) {
  std::mt19937 rng(test_seed() + 2);
  const auto x = random_rows(1, 512, rng);
  std::vector<ActBlock32> q32(512 / 32);
  quantize_act_q8_32(x.data(), q32.data(), 512);
  std::vector<quant::BlockQ8_K> qk(2);
  quantize_act_q8_k(x.data(), qk.data(), 512);
  for (int i = 0; i < 512; ++i) {
    const ActBlock32& b = q32[i / 32];
    EXPECT_LE(std::fabs(b.d * b.qs[i % 32] - x[i]), b.d * 0.5f * 1.0001f);
    const quant::BlockQ8_K& k = qk[i / 256];
    EXPECT_LE(std::fabs(k.d * k.qs[i % 256] - x[i]), k.d * 0.5f * 1.0001f);
  }
  for (const auto& k : qk) {
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += k.qs[16 * j + i];
      EXPECT_EQ(k.bsums[j], sum);
    }
  }
  std::vector<float> zeros(32, 0.0f);
  ActBlock32 z;
  quantize_act_q8_32(zeros.data(), &z, 32);
  EXPECT_EQ(z.d, 0.0f);
  for (int8_t q : z.qs) EXPECT_EQ(q, 0);
}

// Each level's activation encoder writes the same bytes as the scalar one.
TEST(Matmul, SimdActivationEncodersMatchTheScalarOne) {
  std::mt19937 rng(test_seed() + 4);
  const int64_t n = 768;
  auto x = random_rows(1, n, rng);
  for (int64_t i = 256; i < 288; ++i) x[i] = 0.0f;  // an all-zero block of 32
  for (ActFormat f : {ActFormat::kQ8_32, ActFormat::kQ8_K, ActFormat::kBF16}) {
    std::vector<uint8_t> want(act_row_bytes(f, n)), got(want.size(), 0xAB);
    encode_act_row(f, x.data(), want.data(), n);
    for (SimdLevel level : available_levels()) {
      act_encoder(level)(f, x.data(), got.data(), n);
      EXPECT_EQ(got, want) << "format " << static_cast<int>(f) << " level " << simd_level_name(level);
    }
  }
}

// One encoding of the rows serves several matrices and row slices of one.
TEST(Matmul, EncodedRowsServeSeveralMatricesAndSlices) {
  std::mt19937 rng(test_seed() + 5);
  const int64_t n_out = 40, n_in = 512, n_rows = 3;
  for (TensorType t : {TensorType::Q4_K, TensorType::Q8_0, TensorType::F16}) {
    const auto w1 = random_weights(t, n_out, n_in, rng);
    const auto w2 = random_weights(t, n_out, n_in, rng);
    const auto X = random_rows(n_rows, n_in, rng);
    EncodedRows rows;
    rows.encode(t, X.data(), n_in, n_rows, n_in);
    for (const auto* w : {&w1, &w2}) {
      const WeightMatrix W{t, w->data(), n_out, n_in};
      std::vector<float> whole(n_rows * n_out), sliced(n_rows * n_out);
      matmul(W, X.data(), n_in, n_rows, whole.data(), n_out, nullptr);
      const size_t rb = row_bytes(t, n_in);
      for (int64_t b = 0; b < n_out; b += 16) {
        const int64_t e = std::min(n_out, b + 16);
        const WeightMatrix S{t, w->data() + b * rb, e - b, n_in};
        matmul_encoded(S, rows, sliced.data() + b, n_out, nullptr);
      }
      EXPECT_EQ(sliced, whole) << tensor_type_name(t);
    }
    const std::vector<uint8_t> other(row_bytes(TensorType::Q6_K, n_in) * 2);
    EXPECT_THROW(matmul_encoded(WeightMatrix{TensorType::Q6_K, other.data(), 2, n_in}, rows, nullptr, 2, nullptr),
                 Error);
  }
}

TEST(Matmul, TypesWithoutKernelsUseThePortablePath) {
  std::mt19937 rng(test_seed() + 3);
  // Q8_0 data reinterpreted is not valid Q5_1, so build Q5_1 from random bits with sane scales.
  const int64_t n_out = 5, n_in = 64;
  std::vector<uint8_t> w(row_bytes(TensorType::Q5_1, n_in) * n_out);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < w.size() / sizeof(quant::BlockQ5_1); ++i) {
    reinterpret_cast<quant::BlockQ5_1*>(w.data())[i].d = random_scale(rng, 0.05f);
    reinterpret_cast<quant::BlockQ5_1*>(w.data())[i].m = random_scale(rng, 0.05f);
  }
  const WeightMatrix W{TensorType::Q5_1, w.data(), n_out, n_in};
  const auto X = random_rows(3, n_in, rng);
  std::vector<float> y(3 * n_out), ref(3 * n_out);
  matmul(W, X.data(), n_in, 3, y.data(), n_out, nullptr);
  matmul_reference(W, X.data(), n_in, 3, ref.data(), n_out);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-4 * (1 + std::fabs(ref[i])));
}

TEST(Matmul, RowLengthNotAMultipleOfTheBlockIsAnError) {
  std::vector<uint8_t> w(1024);
  const WeightMatrix W{TensorType::Q4_K, w.data(), 1, 100};
  std::vector<float> x(100), y(1);
  EXPECT_THROW(matmul(W, x.data(), 100, 1, y.data(), 1, nullptr), Error);
}

}  // namespace
}  // namespace frugal::kernels
