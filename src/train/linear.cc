#include "train/linear.h"

#include <cblas.h>

#include <atomic>

#include "kernels/cpu_features.h"
#include "kernels/gemm_bf16.h"

namespace frugal::train {
namespace {

std::atomic<ThreadPool*> g_bf16_pool{nullptr};

using kernels::StridedMatrix;

}  // namespace

void set_bf16_products(ThreadPool* pool) { g_bf16_pool.store(pool, std::memory_order_relaxed); }
bool bf16_products() { return g_bf16_pool.load(std::memory_order_relaxed) != nullptr; }
bool bf16_products_native() { return kernels::cpu_has_avx512_bf16(); }

void run_product_tasks(ThreadPool* pool, int64_t n, const std::function<void(int64_t)>& fn) {
  if (!pool || pool->size() == 1 || ThreadPool::in_task() || n <= 1) {
    for (int64_t t = 0; t < n; ++t) fn(t);
    return;
  }
  struct OneBlasThread {
    int saved = openblas_get_num_threads();
    OneBlasThread() { openblas_set_num_threads(1); }
    ~OneBlasThread() { openblas_set_num_threads(saved); }
  } one;
  pool->run(n, [&](int64_t t, int) { fn(t); });
}

void linear_forward(const float* x, const float* w, float* y, int64_t n, int64_t n_in, int64_t n_out) {
  if (n == 0) return;
  if (bf16_products()) {
    kernels::gemm_bf16(StridedMatrix{.data = x, .row = n_in, .col = 1}, StridedMatrix{.data = w, .row = n_in, .col = 1},
                       y, n_out, n, n_out, n_in, false, g_bf16_pool.load(std::memory_order_relaxed));
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(n_out),
              static_cast<int>(n_in), 1.0f, x, static_cast<int>(n_in), w, static_cast<int>(n_in), 0.0f, y,
              static_cast<int>(n_out));
}

void linear_backward(const float* d_y, const float* x, const float* w, float* d_x, float* d_w, int64_t n,
                     int64_t n_in, int64_t n_out) {
  if (n == 0) return;
  if (bf16_products()) {
    ThreadPool* pool = g_bf16_pool.load(std::memory_order_relaxed);
    // d_x (n x n_in) += d_y (n x n_out) . W: B(j, t) = W[t][j].
    if (d_x)
      kernels::gemm_bf16(StridedMatrix{.data = d_y, .row = n_out, .col = 1}, StridedMatrix{.data = w, .row = 1, .col = n_in},
                         d_x, n_in, n, n_in, n_out, true, pool);
    // d_w (n_out x n_in) += d_y^T . x: A(o, t) = d_y[t][o], B(i, t) = x[t][i].
    kernels::gemm_bf16(StridedMatrix{.data = d_y, .row = 1, .col = n_out}, StridedMatrix{.data = x, .row = 1, .col = n_in},
                       d_w, n_in, n_out, n_in, n, true, pool);
    return;
  }
  if (d_x)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(n_in),
                static_cast<int>(n_out), 1.0f, d_y, static_cast<int>(n_out), w, static_cast<int>(n_in), 1.0f, d_x,
                static_cast<int>(n_in));
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(n_out), static_cast<int>(n_in),
              static_cast<int>(n), 1.0f, d_y, static_cast<int>(n_out), x, static_cast<int>(n_in), 1.0f, d_w,
              static_cast<int>(n_in));
}

}  // namespace frugal::train
