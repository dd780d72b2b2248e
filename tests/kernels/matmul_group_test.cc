// matmul_group (several matrices over the same rows in one region) against
// one matmul() per matrix: the same bits, for mixed weight types (encodings
// shared and not), row-interleaved matrices, odd sizes, one row and a prompt's
// worth, on the calling thread and on a pool.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "quant/repack.h"
#include "random_data.h"

namespace frugal::kernels {
namespace {
using test_data::random_weights;
using test_data::test_seed;

struct Matrix {
  TensorType type;
  int64_t n_out;
  std::vector<uint8_t> data;
};

Matrix make(TensorType t, int64_t n_out, int64_t n_in, std::mt19937& rng) {
  const TensorType base = quant::base_type(t);
  Matrix m{t, n_out, random_weights(base, n_out, n_in, rng)};
  if (base != t) quant::repack_rows(base, m.data.data(), m.data.data(), n_out, n_in);
  return m;
}

TEST(MatmulGroup, EqualsOneMatmulPerMatrix) {
  std::mt19937 rng(test_seed());
  ThreadPool pool(2);
  const int64_t n_in = 512;
  // q and k of one type share an encoding, v of another does not; a
  // repacked pair; f32 weights used in place; sizes off every chunk grain.
  const std::vector<std::vector<std::pair<TensorType, int64_t>>> groups = {
      {{TensorType::Q4_K, 512}, {TensorType::Q4_K, 128}, {TensorType::Q6_K, 128}},
      {{TensorType::Q4_K_R16, 1024}, {TensorType::Q6_K_R16, 80}},
      {{TensorType::Q8_0, 200}, {TensorType::F32, 72}, {TensorType::Q8_0, 8}},
  };
  for (const auto& shapes : groups) {
    std::vector<Matrix> ms;
    for (auto [t, n_out] : shapes) ms.push_back(make(t, n_out, n_in, rng));
    for (int64_t n_rows : {1, 3, 37}) {
      std::normal_distribution<float> normal;
      std::vector<float> x(static_cast<size_t>(n_rows * n_in));
      for (float& v : x) v = normal(rng);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<std::vector<float>> want(ms.size()), got(ms.size());
        std::vector<MatmulOut> outs;
        for (size_t i = 0; i < ms.size(); ++i) {
          const WeightMatrix W{ms[i].type, ms[i].data.data(), ms[i].n_out, n_in};
          want[i].assign(static_cast<size_t>(n_rows * ms[i].n_out), 0.0f);
          got[i].assign(want[i].size(), -1.0f);
          matmul(W, x.data(), n_in, n_rows, want[i].data(), ms[i].n_out, p);
          outs.push_back({W, got[i].data(), ms[i].n_out});
        }
        matmul_group(outs, x.data(), n_in, n_rows, p);
        for (size_t i = 0; i < ms.size(); ++i)
          for (size_t e = 0; e < want[i].size(); ++e)
            ASSERT_EQ(got[i][e], want[i][e]) << tensor_type_name(ms[i].type) << " rows " << n_rows << " at " << e;
      }
    }
  }
}

}  // namespace
}  // namespace frugal::kernels
