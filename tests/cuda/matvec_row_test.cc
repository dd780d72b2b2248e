// The per-row products of the CUDA kernels (matvec_row.h), compiled for the
// host, against a double-precision product of the CPU-dequantised weights:
// every type, batches of 1 to 8, one lane and a warp's 32 lanes, f32 and
// int8 accumulation; and the activation quantiser against the CPU's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/block_types.h"
#include "cuda/matvec_row.h"
#include "cuda/reference.h"
#include "kernels/quantize_activations.h"
#include "kernels/random_data.h"

namespace frugal::cuda {
namespace {

constexpr int64_t kRows = 6, kN = 512;

// y[b][r] by row_dot_partial as a warp of `lanes` lanes would share it.
template <class Block, class Act>
std::vector<float> host_products(const Block* w, const ActRows<Act>& x, int lanes) {
  std::vector<float> y(static_cast<size_t>(x.batch * kRows));
  for (int64_t r = 0; r < kRows; ++r) {
    float total[kMaxBatch] = {};
    for (int lane = 0; lane < lanes; ++lane) {
      float sums[kMaxBatch] = {};
      row_dot_partial(w + r * (kN / BlockCodec<Block>::kValues), x, kN, lane, lanes, sums);
      for (int b = 0; b < x.batch; ++b) total[b] += sums[b];
    }
    for (int b = 0; b < x.batch; ++b) y[b * kRows + r] = total[b];
  }
  return y;
}

void expect_near(const std::vector<float>& got, const test::Products& want, const char* what, TensorType t,
                 int batch, int lanes) {
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want.value[i], test::kProductTolerance * want.magnitude[i] + 1e-30)
        << what << " " << tensor_type_name(t) << " batch " << batch << " lanes " << lanes << " output " << i;
  }
}

TEST(CudaMatvecRow, QuantizedActivationsAreTheCpus) {
  std::mt19937 rng(kernels::test_data::test_seed());
  std::vector<float> x = kernels::test_data::random_rows(4, kN, rng);
  std::fill(x.begin(), x.begin() + 32, 0.0f);  // an all-zero block: scale 0, codes 0
  std::vector<kernels::ActBlock32> want(x.size() / 32);
  kernels::quantize_act_q8_32(x.data(), want.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < want.size(); ++b) {
    ActBlockQ8 got;
    quantize_act_block(x.data() + 32 * b, got);
    ASSERT_EQ(std::memcmp(&got, &want[b], sizeof got), 0) << "block " << b;
  }
}

TEST(CudaMatvecRow, F32AccumulationMatchesTheDoubleReference) {
  std::mt19937 rng(kernels::test_data::test_seed() + 2);
  for (TensorType t : block_types()) {
    const std::vector<uint8_t> w = kernels::test_data::random_weights(t, kRows, kN, rng);
    for (int batch : {1, 3, kMaxBatch}) {
      const std::vector<float> x = kernels::test_data::random_rows(batch, kN, rng);
      const test::Products want = test::reference_products(t, w, kRows, kN, x, batch);
      BlockTypes::visit(t, [&](auto tag) {
        using Block = typename decltype(tag)::type;
        const ActRows<float> rows{.data = x.data(), .stride = kN, .batch = batch};
        for (int lanes : {1, 32}) {
          expect_near(host_products(reinterpret_cast<const Block*>(w.data()), rows, lanes), want, "f32", t, batch,
                      lanes);
        }
      });
    }
  }
}

TEST(CudaMatvecRow, Int8AccumulationMatchesTheDoubleReference) {
  std::mt19937 rng(kernels::test_data::test_seed() + 3);
  for (TensorType t : block_types()) {
    const std::vector<uint8_t> w = kernels::test_data::random_weights(t, kRows, kN, rng);
    BlockTypes::visit(t, [&](auto tag) {
      using Block = typename decltype(tag)::type;
      if constexpr (BlockCodec<Block>::kInt8Codes) {
        for (int batch : {1, 5, kMaxBatch}) {
          const std::vector<float> x = kernels::test_data::random_rows(batch, kN, rng);
          std::vector<ActBlockQ8> xq(x.size() / kActBlockValues);
          for (size_t b = 0; b < xq.size(); ++b) quantize_act_block(x.data() + b * kActBlockValues, xq[b]);
          const test::Products want =
              test::reference_products(t, w, kRows, kN, test::int8_activations(x, batch, kN), batch);
          const ActRows<ActBlockQ8> rows{.data = xq.data(), .stride = kN / kActBlockValues, .batch = batch};
          for (int lanes : {1, 32}) {
            expect_near(host_products(reinterpret_cast<const Block*>(w.data()), rows, lanes), want, "int8", t,
                        batch, lanes);
          }
        }
      }
    });
  }
}

}  // namespace
}  // namespace frugal::cuda
