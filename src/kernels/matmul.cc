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
#include "kernels/matmul_observer.h"
#include "quant/quant.h"
#include "quant/repack.h"

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
  run_parallel(pool, W.n_out, 16, W.n_out * W.n_in * n_rows, [&](int64_t o_begin, int64_t o_end, int) {
    std::vector<float> row(static_cast<size_t>(W.n_in));
    for (int64_t o = o_begin; o < o_end; ++o) {
      quant::dequantize_matrix_row(W.type, W.data, o, W.n_in, row.data());
      for (int64_t r = 0; r < n_rows; ++r) {
        const float* x = X + r * ldx;
        float acc = 0;
        for (int64_t i = 0; i < W.n_in; ++i) acc += row[i] * x[i];
        Y[r * ldy + o] = acc;
      }
    }
  });
}

// Weight rows [o_begin, o_end) (row stride rb from w) times every encoded
// row, with a kernel of the rows' type: gemm tiles where given, then tiles
// of rows small enough to stay in cache, each run over every group of up to
// 4 activation rows.
void kernel_rows(const TypeKernel& k, GemmTileFn gemm_tile, const uint8_t* w, size_t rb, int64_t o_begin,
                 int64_t o_end, const uint8_t* a, size_t act_stride, int64_t n_rows, int64_t n_in, float* Y,
                 int64_t ldy) {
  if (gemm_tile) {
    // Whole tiles of 8 outputs in one call, then the rest row by row.
    const int64_t n_tiled = (o_end - o_begin) / kGemmTile * kGemmTile;
    if (n_tiled > 0) gemm_tile(w + o_begin * rb, rb, n_tiled, a, act_stride, n_rows, n_in, Y + o_begin, ldy);
    o_begin += n_tiled;
  }
  const int64_t tile = std::max<int64_t>(4, static_cast<int64_t>(kTileBytes / std::max<size_t>(rb, 1)));
  for (int64_t t0 = o_begin; t0 < o_end; t0 += tile) {
    const int64_t t1 = std::min(o_end, t0 + tile);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kMaxActRows) {
      const int n_act = static_cast<int>(std::min<int64_t>(kMaxActRows, n_rows - r0));
      int64_t o = t0;
      if (k.dot4) {  // decode (a few activation rows): four weight rows a call
        for (; o + 4 <= t1; o += 4) {
          k.dot4(w + o * rb, rb, a + r0 * act_stride, act_stride, n_act, n_in, Y + r0 * ldy + o, ldy);
        }
      }
      for (; o < t1; ++o) k.dot(w + o * rb, a + r0 * act_stride, act_stride, n_act, n_in, Y + r0 * ldy + o, ldy);
    }
  }
}

// The row-interleaved types: 16-row groups split over the threads. With the
// level's kernel for the layout each group is one call per 4 activation
// rows, over tiles of groups that stay in cache; without one, each group is
// unpacked to the base type's rows and goes through that type's kernels.
void matmul_interleaved(const WeightMatrix& W, const EncodedRows& X, const uint8_t* a, size_t act_stride,
                        const TypeKernel* kernel, float* Y, int64_t ldy, ThreadPool* pool) {
  constexpr int64_t G = quant::kRepackRows;
  if (W.n_out % G != 0) {
    fail("matmul: ", W.n_out, " rows of ", tensor_type_name(W.type), " are not whole ", G, "-row groups");
  }
  const int64_t n_rows = X.n_rows(), n_in = W.n_in;
  const size_t gb = static_cast<size_t>(G) * row_bytes(W.type, static_cast<uint64_t>(n_in));
  const auto* w = static_cast<const uint8_t*>(W.data);
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kTileBytes / gb));
  run_parallel(pool, W.n_out / G, 1, W.n_out * n_in * n_rows, [&](int64_t g_begin, int64_t g_end, int) {
    if (kernel && kernel->dot16) {
      for (int64_t t0 = g_begin; t0 < g_end; t0 += tile) {
        const int64_t t1 = std::min(g_end, t0 + tile);
        for (int64_t r0 = 0; r0 < n_rows; r0 += kMaxActRows16) {
          const int n_act = static_cast<int>(std::min<int64_t>(kMaxActRows16, n_rows - r0));
          for (int64_t g = t0; g < t1; g += 2) {  // two groups a call where there are two
            const int n_groups = static_cast<int>(std::min<int64_t>(2, t1 - g));
            kernel->dot16(w + g * gb, a + r0 * act_stride, act_stride, n_act, n_groups, n_in, Y + r0 * ldy + g * G,
                          ldy);
          }
        }
      }
      return;
    }
    const TensorType base = quant::base_type(W.type);
    const size_t rb = row_bytes(base, static_cast<uint64_t>(n_in));
    std::vector<uint8_t> rows(gb);
    for (int64_t g = g_begin; g < g_end; ++g) {
      quant::unpack_rows(W.type, w + g * gb, rows.data(), G, n_in);
      if (kernel) {
        kernel_rows(*kernel, nullptr, rows.data(), rb, 0, G, a, act_stride, n_rows, n_in, Y + g * G, ldy);
      } else {
        matmul_dequantizing(WeightMatrix{base, rows.data(), G, n_in}, X.f32_rows(), X.f32_stride(), n_rows,
                            Y + g * G, ldy, nullptr);
      }
    }
  });
}

}  // namespace

void EncodedRows::encode(TensorType weight_type, const float* X, int64_t ldx, int64_t n_rows, int64_t n_in,
                         ThreadPool* pool, SimdLevel level) {
  if (n_rows < 0 || n_in < 0 || (n_rows > 1 && ldx < n_in)) fail("matmul: bad activation shape");
  if (level > detected_simd_level()) {
    fail("matmul: kernel level ", simd_level_name(level), " is not supported by this CPU");
  }
  row_bytes(weight_type, static_cast<uint64_t>(n_in));  // throws on a partial block
  type_ = weight_type;
  kernel_ = find_kernel(weight_type, level);
  // A row-interleaved type without a kernel of its own at this level is
  // multiplied group by group as rows of its base type.
  if (!kernel_) kernel_ = find_kernel(quant::base_type(weight_type), level);
  x_ = X;
  ldx_ = ldx;
  n_rows_ = n_rows;
  n_in_ = n_in;
  if (!kernel_ || kernel_->act == ActFormat::kF32) {
    rows_ = reinterpret_cast<const uint8_t*>(X);
    stride_ = static_cast<size_t>(ldx) * sizeof(float);
    return;
  }
  stride_ = act_row_bytes(kernel_->act, n_in);
  storage_.resize(stride_ * static_cast<size_t>(n_rows));
  uint8_t* dst = storage_.data();
  const EncodeFn encode_row = act_encoder(level);
  const ActFormat format = kernel_->act;
  run_parallel(pool, n_rows, 4, n_rows * n_in * 4, [&](int64_t r_begin, int64_t r_end, int) {
    for (int64_t r = r_begin; r < r_end; ++r) encode_row(format, X + r * ldx, dst + r * stride_, n_in);
  });
  rows_ = dst;
}

namespace {
MatmulObserver* g_observer = nullptr;  // set_matmul_observer()
}  // namespace

void set_matmul_observer(MatmulObserver* o) { g_observer = o; }

void matmul_encoded(const WeightMatrix& W, const EncodedRows& X, float* Y, int64_t ldy, ThreadPool* pool) {
  if (W.n_out < 0) fail("matmul: negative size");
  if (g_observer) [[unlikely]]
    g_observer->observe(W, X.x_, X.ldx_, X.n_rows_);
  if (W.type != X.type_ || W.n_in != X.n_in_) {
    fail("matmul: activations encoded for ", tensor_type_name(X.type_), " rows of ", X.n_in_, " used with ",
         tensor_type_name(W.type), " rows of ", W.n_in);
  }
  const int64_t n_rows = X.n_rows_;
  if (W.n_out == 0 || n_rows == 0) return;
  const size_t rb = row_bytes(W.type, static_cast<uint64_t>(W.n_in));
  const auto* w = static_cast<const uint8_t*>(W.data);
  if (quant::interleaved_rows(W.type) > 1) return matmul_interleaved(W, X, X.rows_, X.stride_, X.kernel_, Y, ldy, pool);
  if (!X.kernel_) return matmul_dequantizing(W, X.x_, X.ldx_, n_rows, Y, ldy, pool);
  const TypeKernel& k = *X.kernel_;
  const GemmTileFn gemm_tile = n_rows >= k.gemm_min_rows ? k.gemm_tile : nullptr;
  // Chunks of whole gemm tiles where they are used.
  run_parallel(pool, W.n_out, gemm_tile ? 4 * kGemmTile : 8, W.n_out * W.n_in * n_rows,
               [&](int64_t o_begin, int64_t o_end, int) {
                 kernel_rows(k, gemm_tile, w, rb, o_begin, o_end, X.rows_, X.stride_, n_rows, W.n_in, Y, ldy);
               });
}

void matmul_at_level(SimdLevel level, const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y,
                     int64_t ldy, ThreadPool* pool) {
  if (W.n_out < 0 || W.n_in < 0 || n_rows < 0) fail("matmul: negative size");
  thread_local EncodedRows rows;
  rows.encode(W.type, X, ldx, n_rows, W.n_in, pool, level);
  matmul_encoded(W, rows, Y, ldy, pool);
}

void matmul(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy,
            ThreadPool* pool) {
  matmul_at_level(active_simd_level(), W, X, ldx, n_rows, Y, ldy, pool);
}

}  // namespace frugal::kernels
