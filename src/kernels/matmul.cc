// matmul(): encodes the activation rows once for the weight type's kernel,
// then splits the weight rows over the thread pool. Each task walks its rows
// in tiles small enough to stay in the core's L2 cache and runs every group
// of up to 4 activation rows over the tile, so a weight block is fetched
// from memory once per call and unpacked once per 4 activation rows.
#include <algorithm>
#include <vector>

#include "base/error.h"
#include "kernels/matmul.h"
#include "kernels/matmul_kernels.h"
#include "quant/quant.h"

namespace frugal::kernels {
namespace {

// Weight bytes per tile: well inside a 1-2 MiB L2, leaving room for the
// activation rows and the other thread's traffic.
constexpr size_t kTileBytes = 256 * 1024;
// Below this many multiply-adds the pool's dispatch costs more than it saves.
constexpr int64_t kMinParallelWork = 64 * 1024;

void run_parallel(ThreadPool* pool, int64_t n, int64_t grain, int64_t work,
                  const std::function<void(int64_t, int64_t, int)>& body) {
  if (pool && pool->size() > 1 && n > grain && work >= kMinParallelWork) {
    pool->parallel_for(n, grain, body);
  } else {
    body(0, n, 0);
  }
}

// Types without a kernel at this level: dequantise each weight row, then
// float dot products with every activation row.
void matmul_dequantizing(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy,
                         ThreadPool* pool) {
  const size_t rb = row_bytes(W.type, static_cast<uint64_t>(W.n_in));
  run_parallel(pool, W.n_out, 16, W.n_out * W.n_in * n_rows, [&](int64_t o_begin, int64_t o_end, int) {
    std::vector<float> row(static_cast<size_t>(W.n_in));
    for (int64_t o = o_begin; o < o_end; ++o) {
      quant::dequantize_row(W.type, static_cast<const uint8_t*>(W.data) + o * rb, row.data(), W.n_in);
      for (int64_t r = 0; r < n_rows; ++r) {
        const float* x = X + r * ldx;
        float acc = 0;
        for (int64_t i = 0; i < W.n_in; ++i) acc += row[i] * x[i];
        Y[r * ldy + o] = acc;
      }
    }
  });
}

}  // namespace

void matmul_at_level(SimdLevel level, const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y,
                     int64_t ldy, ThreadPool* pool) {
  if (W.n_out < 0 || W.n_in < 0 || n_rows < 0) fail("matmul: negative size");
  if (level > detected_simd_level()) {
    fail("matmul: kernel level ", simd_level_name(level), " is not supported by this CPU");
  }
  const size_t rb = row_bytes(W.type, static_cast<uint64_t>(W.n_in));  // throws on a partial block
  if (W.n_out == 0 || n_rows == 0) return;
  const TypeKernel* kernel = find_kernel(W.type, level);
  if (!kernel) return matmul_dequantizing(W, X, ldx, n_rows, Y, ldy, pool);

  // Activation rows in the kernel's encoding; f32 rows are used in place.
  const void* act = X;
  size_t act_stride = static_cast<size_t>(ldx) * sizeof(float);
  thread_local std::vector<uint8_t> act_buffer;
  if (kernel->act != ActFormat::kF32) {
    act_stride = act_row_bytes(kernel->act, W.n_in);
    act_buffer.resize(act_stride * static_cast<size_t>(n_rows));
    uint8_t* dst = act_buffer.data();
    run_parallel(pool, n_rows, 4, n_rows * W.n_in * 16, [&](int64_t r_begin, int64_t r_end, int) {
      for (int64_t r = r_begin; r < r_end; ++r) encode_act_row(kernel->act, X + r * ldx, dst + r * act_stride, W.n_in);
    });
    act = dst;
  }

  const auto* w = static_cast<const uint8_t*>(W.data);
  const auto* a = static_cast<const uint8_t*>(act);
  const int64_t tile = std::max<int64_t>(4, static_cast<int64_t>(kTileBytes / std::max<size_t>(rb, 1)));
  auto body = [&](int64_t o_begin, int64_t o_end, int) {
    for (int64_t t0 = o_begin; t0 < o_end; t0 += tile) {
      const int64_t t1 = std::min(o_end, t0 + tile);
      for (int64_t r0 = 0; r0 < n_rows; r0 += kMaxActRows) {
        const int n_act = static_cast<int>(std::min<int64_t>(kMaxActRows, n_rows - r0));
        for (int64_t o = t0; o < t1; ++o) {
          kernel->dot(w + o * rb, a + r0 * act_stride, act_stride, n_act, W.n_in, Y + r0 * ldy + o, ldy);
        }
      }
    }
  };
  run_parallel(pool, W.n_out, 8, W.n_out * W.n_in * n_rows, body);
}

void matmul(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy,
            ThreadPool* pool) {
  matmul_at_level(active_simd_level(), W, X, ldx, n_rows, Y, ldy, pool);
}

}  // namespace frugal::kernels
