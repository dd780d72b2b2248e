// The kernels behind kernels.h, one template per operation instantiated for
// every type of block_types.h. The arithmetic lives in block_decode.h and
// matvec_row.h, shared with the host tests; this file only lays the work
// out on the device: threads, warps and the reduction.
#include "cuda/kernels.h"

#include <algorithm>
#include <cstdint>

#include "base/error.h"
#include "cuda/block_types.h"
#include "cuda/matvec_row.h"
#include "cuda/runtime.h"

namespace frugal::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kThreadsPerBlock = 256;
constexpr int kRowsPerBlock = kThreadsPerBlock / kWarp;

// One thread per 16-value unit of the flat array of blocks.
template <class Block>
__global__ void dequantize_kernel(const Block* src, float* dst, int64_t n_units) {
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= n_units) return;
  constexpr int kUnits = BlockCodec<Block>::kUnits;
  dequantize_unit(src[g / kUnits], static_cast<int>(g % kUnits), dst + g * kUnitValues);
}

// One warp per output row: the lanes take turns over the row's units, then
// the warp sums its lanes' shares for each activation row.
template <class Block, class Act>
__global__ void matvec_kernel(const Block* w, int64_t blocks_per_row, int64_t rows, int64_t n, ActRows<Act> x,
                              float* y) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  if (row >= rows) return;  // whole warps leave together: rows are warp-aligned
  float sums[kMaxBatch] = {};
  row_dot_partial(w + row * blocks_per_row, x, n, lane, kWarp, sums);
  FRUGAL_UNROLL
  for (int r = 0; r < kMaxBatch; ++r) {
    if (r >= x.batch) break;
    float s = sums[r];
    for (int offset = kWarp / 2; offset > 0; offset /= 2) s += __shfl_down_sync(0xffffffffu, s, offset);
    if (lane == 0) y[r * rows + row] = s;
  }
}

// One thread per activation block of 32.
__global__ void quantize_activations_kernel(const float* x, ActBlockQ8* out, int64_t n_blocks) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n_blocks) quantize_act_block(x + i * kActBlockValues, out[i]);
}

unsigned grid_for(int64_t items, int64_t per_block) {
  const int64_t blocks = (items + per_block - 1) / per_block;
  if (blocks > 0x7fffffff) fail("CUDA kernel: ", items, " items are more than one launch takes");
  return static_cast<unsigned>(blocks);
}

// The block count of a row of n values of a table type; frugal::Error for a
// type outside the table or a row that is not whole blocks.
template <class Block>
int64_t blocks_in_row(TensorType t, int64_t n, const char* what) {
  constexpr int kValues = BlockCodec<Block>::kValues;
  if (n <= 0 || n % kValues != 0) {
    fail(what, ": a ", tensor_type_name(t), " row of ", n, " values is not a whole number of ", kValues,
         "-value blocks");
  }
  return n / kValues;
}

// The wide loads of host_device.h: weights and f32 activations 16-byte
// aligned (as cudaMalloc gives them), int8 activation blocks 4-byte aligned.
void check_aligned(const void* p, size_t alignment, const char* what, const char* name) {
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0) {
    fail(what, ": ", name, " must be ", alignment, "-byte aligned (", p, ")");
  }
}

[[noreturn]] void fail_type(TensorType t, const char* what) {
  fail(what, ": the CUDA backend has no kernel for ", tensor_type_name(t));
}

}  // namespace

bool kernel_supports(TensorType t) {
  return BlockTypes::visit(t, [](auto) {});
}

bool supports_int8(TensorType t) {
  bool int8 = false;
  BlockTypes::visit(t, [&](auto tag) { int8 = BlockCodec<typename decltype(tag)::type>::kInt8Codes; });
  return int8;
}

void dequantize(TensorType t, const void* d_src, float* d_dst, int64_t rows, int64_t n) {
  const bool known = BlockTypes::visit(t, [&](auto tag) {
    using Block = typename decltype(tag)::type;
    if (rows < 0) fail("cuda::dequantize: ", rows, " rows");
    check_aligned(d_src, 16, "cuda::dequantize", "d_src");
    const int64_t n_units = rows * blocks_in_row<Block>(t, n, "cuda::dequantize") * BlockCodec<Block>::kUnits;
    if (n_units == 0) return;
    dequantize_kernel<Block><<<grid_for(n_units, kThreadsPerBlock), kThreadsPerBlock>>>(
        static_cast<const Block*>(d_src), d_dst, n_units);
    FRUGAL_CUDA_CHECK_LAUNCH("dequantize_kernel");
  });
  if (!known) fail_type(t, "cuda::dequantize");
}

size_t matvec_scratch_bytes(int batch, int64_t n) {
  return static_cast<size_t>(batch) * static_cast<size_t>(n / kActBlockValues) * sizeof(ActBlockQ8);
}

void quantize_activations(const float* d_x, void* d_blocks, int batch, int64_t n) {
  if (n <= 0 || n % kActBlockValues != 0) fail("cuda::quantize_activations: a row of ", n, " is not whole blocks of 32");
  if (batch < 1) fail("cuda::quantize_activations: batch ", batch, " (at least 1 row)");
  check_aligned(d_blocks, 4, "cuda::quantize_activations", "d_blocks");
  const int64_t n_blocks = batch * (n / kActBlockValues);
  quantize_activations_kernel<<<grid_for(n_blocks, kThreadsPerBlock), kThreadsPerBlock>>>(
      d_x, static_cast<ActBlockQ8*>(d_blocks), n_blocks);
  FRUGAL_CUDA_CHECK_LAUNCH("quantize_activations_kernel");
}

// The activation rows go in launches of up to kMaxBatch rows (the sums a
// lane keeps in registers), each reading the weights once.
void matvec(const MatvecArgs& a) {
  if (a.batch < 1) fail("cuda::matvec: batch ", a.batch, " (at least 1 activation row)");
  if (a.rows <= 0) fail("cuda::matvec: ", a.rows, " rows");
  const bool known = BlockTypes::visit(a.type, [&](auto tag) {
    using Block = typename decltype(tag)::type;
    const int64_t blocks_per_row = blocks_in_row<Block>(a.type, a.n, "cuda::matvec");
    check_aligned(a.d_weights, 16, "cuda::matvec", "d_weights");
    check_aligned(a.d_x, 16, "cuda::matvec", "d_x");
    const auto* w = static_cast<const Block*>(a.d_weights);
    const unsigned grid = grid_for(a.rows, kRowsPerBlock);
    if (a.accumulation == Accumulation::F32) {
      for (int b0 = 0; b0 < a.batch; b0 += kMaxBatch) {
        const ActRows<float> x{.data = a.d_x + b0 * a.n, .stride = a.n, .batch = std::min(kMaxBatch, a.batch - b0)};
        matvec_kernel<Block, float><<<grid, kThreadsPerBlock>>>(w, blocks_per_row, a.rows, a.n, x,
                                                                a.d_y + b0 * a.rows);
        FRUGAL_CUDA_CHECK_LAUNCH("matvec_kernel<f32>");
      }
      return;
    }
    if constexpr (!BlockCodec<Block>::kInt8Codes) {
      fail("cuda::matvec: int8 accumulation needs a quantised type, not ", tensor_type_name(a.type));
    } else {
      const size_t need = matvec_scratch_bytes(a.batch, a.n);
      if (a.d_scratch == nullptr || a.scratch_bytes < need) {
        fail("cuda::matvec: int8 accumulation needs ", need, " bytes of d_scratch, not ", a.scratch_bytes);
      }
      quantize_activations(a.d_x, a.d_scratch, a.batch, a.n);
      const int64_t stride = a.n / kActBlockValues;
      for (int b0 = 0; b0 < a.batch; b0 += kMaxBatch) {
        const ActRows<ActBlockQ8> x{.data = static_cast<const ActBlockQ8*>(a.d_scratch) + b0 * stride,
                                    .stride = stride,
                                    .batch = std::min(kMaxBatch, a.batch - b0)};
        matvec_kernel<Block, ActBlockQ8><<<grid, kThreadsPerBlock>>>(w, blocks_per_row, a.rows, a.n, x,
                                                                     a.d_y + b0 * a.rows);
        FRUGAL_CUDA_CHECK_LAUNCH("matvec_kernel<int8>");
      }
    }
  });
  if (!known) fail_type(a.type, "cuda::matvec");
}

}  // namespace frugal::cuda
