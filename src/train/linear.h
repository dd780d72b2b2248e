// The training model's matrix products: y = x W^T forward, and the two
// products of its backward pass. In f32 they go through OpenBLAS
// (cblas_sgemm); with bf16 products on (set_bf16_products) both factors of
// every product are rounded to bf16 and multiplied with f32 sums
// (kernels/gemm_bf16.h: vdpbf16ps where the CPU has AVX512_BF16), while the
// parameters, their gradients and AdamW's moments stay f32 (mixed precision
// with f32 master weights).
#pragma once
#include <cstdint>
#include <functional>

#include "base/thread_pool.h"

namespace frugal::train {

// y (n x n_out) = x (n x n_in) . W^T, W holding n_out rows of n_in.
void linear_forward(const float* x, const float* w, float* y, int64_t n, int64_t n_in, int64_t n_out);
// d_x += d_y . W;  d_w += d_y^T . x.  d_x may be null.
void linear_backward(const float* d_y, const float* x, const float* w, float* d_x, float* d_w, int64_t n,
                     int64_t n_in, int64_t n_out);

// Process-wide: pool non-null turns bf16 products on, run on that pool
// (inline where called from inside one of its tasks); null turns them off.
// Set before training starts, not while products run.
void set_bf16_products(ThreadPool* pool);
bool bf16_products();

// Runs fn(task) for task in [0, n) on the pool, each task's products on the
// one thread that runs it: OpenBLAS is held to one thread for the region and
// given its threads back after (the routed experts: many small products at
// once fill the cores where one at a time on all threads would not). Without
// a pool, or from inside a pool's task, the tasks run in order here.
void run_product_tasks(ThreadPool* pool, int64_t n, const std::function<void(int64_t)>& fn);

// Whether bf16 products run on the CPU's own bf16 dot products here
// (AVX512_BF16); without them the kernels take a slow portable path.
bool bf16_products_native();

}  // namespace frugal::train
