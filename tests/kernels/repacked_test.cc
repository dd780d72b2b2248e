// The row-interleaved types (quant/repack.h): repacking is lossless both ways
// (and in place), one row can be read back from its group, and a product
// with repacked weights gives the same bits as with the rows they came from,
// at every SIMD level this CPU has, for 1-8 activation rows (decode and
// batched decode) and beside matmul_reference for prefill-sized batches.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "base/error.h"
#include "base/thread_pool.h"
#include "kernels/ffn.h"
#include "kernels/matmul.h"
#include "kernels/matmul_kernels.h"
#include "quant/quant.h"
#include "quant/repack.h"
#include "random_data.h"

namespace frugal::kernels {
namespace {

using test_data::available_levels;
using test_data::random_rows;
using test_data::random_weights;
using test_data::test_seed;

constexpr TensorType kBases[] = {TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K,
                                 TensorType::Q6_K};

TEST(Repack, RoundTripsAndReadsRowsBack) {
  std::mt19937 rng(test_seed() + 11);
  for (TensorType base : kBases) {
    const TensorType packed = quant::repacked_type(base);
    ASSERT_NE(packed, base);
    EXPECT_EQ(quant::base_type(packed), base);
    EXPECT_EQ(quant::interleaved_rows(packed), 16);
    EXPECT_EQ(quant::interleaved_rows(base), 1);
    for (int64_t n_in : {256, 768}) {
      const int64_t n_out = 48;
      const auto rows = random_weights(base, n_out, n_in, rng);
      std::vector<uint8_t> groups(rows.size()), back(rows.size());
      quant::repack_rows(base, rows.data(), groups.data(), n_out, n_in);
      EXPECT_NE(groups, rows);
      quant::unpack_rows(packed, groups.data(), back.data(), n_out, n_in);
      EXPECT_EQ(back, rows) << tensor_type_name(base) << " n_in " << n_in;
      std::vector<uint8_t> in_place = rows;
      quant::repack_rows(base, in_place.data(), in_place.data(), n_out, n_in);
      EXPECT_EQ(in_place, groups);
      const size_t rb = row_bytes(base, static_cast<uint64_t>(n_in));
      std::vector<uint8_t> one(rb);
      std::vector<float> a(static_cast<size_t>(n_in)), b(static_cast<size_t>(n_in));
      for (int64_t r : {int64_t{0}, int64_t{5}, int64_t{17}, n_out - 1}) {
        quant::extract_row(packed, groups.data(), r, n_in, one.data());
        EXPECT_EQ(0, std::memcmp(one.data(), rows.data() + r * rb, rb)) << "row " << r;
        quant::dequantize_matrix_row(packed, groups.data(), r, n_in, a.data());
        quant::dequantize_row(base, rows.data() + r * rb, b.data(), n_in);
        EXPECT_EQ(a, b) << "row " << r;
      }
    }
  }
}

TEST(Repack, RejectsPartialGroupsAndOtherTypes) {
  std::vector<uint8_t> buf(row_bytes(TensorType::Q4_K, 256) * 16);
  EXPECT_THROW(quant::repack_rows(TensorType::Q4_K, buf.data(), buf.data(), 8, 256), Error);
  EXPECT_THROW(quant::repack_rows(TensorType::Q3_K, buf.data(), buf.data(), 16, 256), Error);
  EXPECT_THROW(quant::unpack_rows(TensorType::Q4_K, buf.data(), buf.data(), 16, 256), Error);
}

// Decode and batched decode (1-4 rows, and a few more in groups of 4): the
// same bits as the base type's kernels, whose four-row kernels give every
// output exactly, except where the base type multiplies that many rows with
// its prefill tiles (Q8_0 and Q5_0 from 4 rows at avx512), which round
// differently: there, and for prefill sizes, within matmul_reference's
// tolerance. Q8_0 and Q5_0 also at widths that are not a multiple of 256
// (expert down matrices of 1,408 columns are Q8_0 and Q5_0 in llama.cpp's
// Q4_K_M).
TEST(Repack, ProductsEqualTheBaseTypes) {
  std::mt19937 rng(test_seed() + 12);
  ThreadPool pool(2);
  for (TensorType base : kBases) {
    const TensorType packed = quant::repacked_type(base);
    std::vector<int64_t> widths = {256, 1280};
    if (tensor_type_info(base).block_size == 32) widths.push_back(1408 + 32);
    for (int64_t n_in : widths) {
      for (int64_t n_out : {16, 80}) {
        const auto rows = random_weights(base, n_out, n_in, rng);
        std::vector<uint8_t> groups(rows.size());
        quant::repack_rows(base, rows.data(), groups.data(), n_out, n_in);
        const WeightMatrix Wb{base, rows.data(), n_out, n_in}, Wp{packed, groups.data(), n_out, n_in};
        for (int64_t n_rows : {1, 2, 3, 4, 7, 13}) {
          const int64_t ldx = n_in + 5, ldy = n_out + 3;
          const auto X = random_rows(n_rows, ldx, rng);
          for (SimdLevel level : available_levels()) {
            for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
              std::vector<float> yb(static_cast<size_t>(n_rows * ldy), -1), yp = yb;
              matmul_at_level(level, Wb, X.data(), ldx, n_rows, yb.data(), ldy, p);
              matmul_at_level(level, Wp, X.data(), ldx, n_rows, yp.data(), ldy, p);
              const TypeKernel* bk = find_kernel(base, level);
              if (!(bk && bk->gemm_tile && n_rows >= bk->gemm_min_rows)) {
                EXPECT_EQ(0, std::memcmp(yb.data(), yp.data(), yb.size() * sizeof(float)))
                    << tensor_type_name(packed) << " level " << simd_level_name(level) << " n_in " << n_in
                    << " n_out " << n_out << " rows " << n_rows << " seed " << test_seed();
                continue;
              }
              std::vector<float> w(static_cast<size_t>(n_in));
              for (int64_t o = 0; o < n_out; ++o) {
                quant::dequantize_row(base, rows.data() + o * row_bytes(base, static_cast<uint64_t>(n_in)), w.data(),
                                      n_in);
                for (int64_t r = 0; r < n_rows; ++r) {
                  const double tol = matmul_tolerance(packed, w.data(), X.data() + r * ldx, n_in);
                  ASSERT_NEAR(yp[r * ldy + o], yb[r * ldy + o], 2 * tol)
                      << tensor_type_name(packed) << " level " << simd_level_name(level) << " o " << o << " r " << r;
                }
              }
            }
          }
        }
        // Prefill: beside the reference (the base type's gemm tiles round differently).
        const int64_t n_rows = 37, ldx = n_in, ldy = n_out;
        const auto X = random_rows(n_rows, ldx, rng);
        std::vector<float> ref(static_cast<size_t>(n_rows * ldy)), y(ref.size());
        matmul_reference(Wb, X.data(), ldx, n_rows, ref.data(), ldy);
        matmul(Wp, X.data(), ldx, n_rows, y.data(), ldy, &pool);
        std::vector<float> w(static_cast<size_t>(n_in));
        for (int64_t o = 0; o < n_out; ++o) {
          quant::dequantize_row(base, rows.data() + o * row_bytes(base, static_cast<uint64_t>(n_in)), w.data(), n_in);
          for (int64_t r = 0; r < n_rows; ++r) {
            const double tol = matmul_tolerance(packed, w.data(), X.data() + r * ldx, n_in);
            ASSERT_NEAR(y[r * ldy + o], ref[r * ldy + o], tol) << tensor_type_name(packed) << " o " << o << " r " << r;
          }
        }
      }
    }
  }
}

TEST(Repack, SlicesFollowGroups) {
  std::mt19937 rng(test_seed() + 13);
  const int64_t n_in = 512, n_out = 64;
  const auto rows = random_weights(TensorType::Q4_K, n_out, n_in, rng);
  std::vector<uint8_t> groups(rows.size());
  quant::repack_rows(TensorType::Q4_K, rows.data(), groups.data(), n_out, n_in);
  const WeightMatrix Wb{TensorType::Q4_K, rows.data(), n_out, n_in};
  const WeightMatrix Wp{TensorType::Q4_K_R16, groups.data(), n_out, n_in};
  const auto X = random_rows(2, n_in, rng);
  std::vector<float> yb(32), yp(32);
  matmul(weight_rows(Wb, 16, 32), X.data(), n_in, 2, yb.data(), 16, nullptr);
  matmul(weight_rows(Wp, 16, 32), X.data(), n_in, 2, yp.data(), 16, nullptr);
  EXPECT_EQ(yb, yp);
  const WeightMatrix partial{TensorType::Q4_K_R16, groups.data(), 24, n_in};
  EXPECT_THROW(matmul(partial, X.data(), n_in, 1, yp.data(), 24, nullptr), Error);
}

}  // namespace
}  // namespace frugal::kernels
