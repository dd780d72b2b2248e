#include "train/layers.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/ops.h"

namespace frugal::train {
namespace {

// fn(begin, end) over [0, n) in chunks of at least grain, on the pool if any.
void for_chunks(ThreadPool* pool, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (pool && n > grain) pool->parallel_for(n, grain, [&](int64_t b, int64_t e, int) { fn(b, e); });
  else fn(0, n);
}

// Rows a chunk of a row-wise layer takes at least: a few rows of work.
int64_t row_grain(int64_t width) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, width)); }

}  // namespace

void rmsnorm_forward(const float* x, const float* w, float* y, float* rstd, int64_t n, int64_t d, float eps,
                     ThreadPool* pool) {
  for_chunks(pool, n, row_grain(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * d;
      double ss = 0.0;
      for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(d) + eps));
      rstd[r] = rs;
      float* yr = y + r * d;
      for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * rs * w[i];
    }
  });
}

void rmsnorm_backward(const float* d_y, const float* x, const float* w, const float* rstd, float* d_x, float* d_w,
                      int64_t n, int64_t d, ThreadPool* pool) {
  // The weight's gradient sums over rows: each block of kBlock rows sums into
  // its own row of partial, and the blocks are added in order, so the bits do
  // not depend on the pool.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<float> partial(static_cast<size_t>(blocks * d), 0.0f);
  for_chunks(pool, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* dw = partial.data() + b * d;
      for (int64_t r = b * kBlock; r < std::min(n, (b + 1) * kBlock); ++r) {
        const float* xr = x + r * d;
        const float* dyr = d_y + r * d;
        const float rs = rstd[r];
        // y_i = w_i x_i rs, rs = (mean(x^2) + eps)^(-1/2):
        // dx_j = rs w_j dy_j - rs^3 x_j / d * sum_i(w_i dy_i x_i).
        double dot = 0.0;
        for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(w[i]) * dyr[i] * xr[i];
        const float c = static_cast<float>(dot) * rs * rs * rs / static_cast<float>(d);
        float* dxr = d_x + r * d;
        for (int64_t i = 0; i < d; ++i) {
          dxr[i] += rs * w[i] * dyr[i] - c * xr[i];
          dw[i] += dyr[i] * xr[i] * rs;
        }
      }
    }
  });
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < d; ++i) d_w[i] += partial[static_cast<size_t>(b * d + i)];
}

void rope_table(int64_t n_ctx, int64_t head_dim, float freq_base, float* cos_sin) {
  // The same angles as kernels::rope_angles (computed in double): pair i of
  // a head turns by pos * base^(-2i / head_dim).
  const int64_t half = head_dim / 2;
  for (int64_t p = 0; p < n_ctx; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double theta =
          static_cast<double>(p) * std::pow(static_cast<double>(freq_base), -2.0 * static_cast<double>(i) / head_dim);
      cos_sin[p * head_dim + 2 * i] = static_cast<float>(std::cos(theta));
      cos_sin[p * head_dim + 2 * i + 1] = static_cast<float>(std::sin(theta));
    }
}

namespace {
// NeoX pairs (i, i + hd/2); the normal layout pairs (2i, 2i + 1). Pair i
// turns by the same angle in both.
void rope_rotate(float* x, const int32_t* pos, const float* cos_sin, int64_t n, int64_t n_heads, int64_t hd,
                 float sign, bool neox) {
  const int64_t half = hd / 2;
  const int64_t first = neox ? 1 : 2, second = neox ? half : 1;  // pair i: (first * i, first * i + second)
  for (int64_t r = 0; r < n; ++r) {
    const float* cs = cos_sin + static_cast<int64_t>(pos[r]) * hd;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* xh = x + (r * n_heads + h) * hd;
      for (int64_t i = 0; i < half; ++i) {
        const float c = cs[2 * i], s = sign * cs[2 * i + 1];
        float& a = xh[first * i];
        float& b = xh[first * i + second];
        const float a0 = a, b0 = b;
        a = a0 * c - b0 * s;
        b = a0 * s + b0 * c;
      }
    }
  }
}
}  // namespace

void rope_forward(float* x, const int32_t* pos, const float* cos_sin, int64_t n, int64_t n_heads, int64_t head_dim,
                  bool neox, ThreadPool* pool) {
  for_chunks(pool, n, row_grain(n_heads * head_dim), [&](int64_t r0, int64_t r1) {
    rope_rotate(x + r0 * n_heads * head_dim, pos + r0, cos_sin, r1 - r0, n_heads, head_dim, 1.0f, neox);
  });
}

void rope_backward(float* d_x, const int32_t* pos, const float* cos_sin, int64_t n, int64_t n_heads,
                   int64_t head_dim, bool neox, ThreadPool* pool) {
  for_chunks(pool, n, row_grain(n_heads * head_dim), [&](int64_t r0, int64_t r1) {  // the transpose of a rotation
    rope_rotate(d_x + r0 * n_heads * head_dim, pos + r0, cos_sin, r1 - r0, n_heads, head_dim, -1.0f, neox);
  });
}

void swiglu_forward(const float* g, const float* u, float* h, int64_t n, ThreadPool* pool) {
  for_chunks(pool, n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) h[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

void swiglu_backward(const float* d_h, const float* g, const float* u, float* d_g, float* d_u, int64_t n,
                     ThreadPool* pool) {
  for_chunks(pool, n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float sig = 1.0f / (1.0f + std::exp(-g[i]));
      const float silu = g[i] * sig;
      d_u[i] = d_h[i] * silu;
      d_g[i] = d_h[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    }
  });
}

void swiglu_oai_backward(const float* d_h, const float* g, const float* u, float* d_g, float* d_u, int64_t n,
                         ThreadPool* pool) {
  const float alpha = kernels::kSwigluOaiAlpha, limit = kernels::kSwigluOaiLimit;
  for_chunks(pool, n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float gc = std::min(g[i], limit), uc = std::clamp(u[i], -limit, limit);
      const float sig = 1.0f / (1.0f + std::exp(-alpha * gc));
      d_u[i] = u[i] > -limit && u[i] < limit ? d_h[i] * gc * sig : 0.0f;
      d_g[i] = g[i] < limit ? d_h[i] * (uc + 1.0f) * sig * (1.0f + alpha * gc * (1.0f - sig)) : 0.0f;
    }
  });
}

double cross_entropy_forward(const float* logits, const int32_t* targets, float* probs, int64_t n, int64_t n_vocab,
                             ThreadPool* pool) {
  std::vector<double> row_loss(static_cast<size_t>(n));  // summed in row order below: the same bits on any pool
  for_chunks(pool, n, row_grain(n_vocab), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* lr = logits + r * n_vocab;
      float* pr = probs + r * n_vocab;
      float mx = lr[0];
      for (int64_t i = 1; i < n_vocab; ++i) mx = std::max(mx, lr[i]);
      double sum = 0.0;
      for (int64_t i = 0; i < n_vocab; ++i) {
        pr[i] = std::exp(lr[i] - mx);
        sum += pr[i];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t i = 0; i < n_vocab; ++i) pr[i] *= inv;
      row_loss[static_cast<size_t>(r)] = -(static_cast<double>(lr[targets[r]]) - mx - std::log(sum));
    }
  });
  double loss = 0.0;
  for (double l : row_loss) loss += l;
  return loss;
}

void cross_entropy_backward(const float* probs, const int32_t* targets, float* d_logits, int64_t n, int64_t n_vocab,
                            float scale, ThreadPool* pool) {
  for_chunks(pool, n, row_grain(n_vocab), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* pr = probs + r * n_vocab;
      float* dr = d_logits + r * n_vocab;
      for (int64_t i = 0; i < n_vocab; ++i) dr[i] = scale * pr[i];
      dr[targets[r]] -= scale;
    }
  });
}

}  // namespace frugal::train

namespace frugal::train {
void set_blas_threads(int n) { openblas_set_num_threads(n); }
}  // namespace frugal::train

namespace frugal::train {

void router_backward(const RouterBackward& r, const float* d_out, float* d_slot_y, float* d_logits) {
  const int64_t E = r.n_expert, k = r.k, D = r.d;
  std::vector<float> g(static_cast<size_t>(k)), d_p(static_cast<size_t>(E));
  for (int64_t row = 0; row < r.n; ++row) {
    const float* dxo = d_out + row * D;
    const float* pr = r.probs + row * E;
    float* dl = d_logits + row * E;
    // d w_j = <d x_out, y_j>.
    float g_dot_w = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t slot = r.slot_of[row * k + j];
      const float* y = r.expert_out + slot * D;
      float* dy = d_slot_y + slot * D;
      const float w = r.weights[row * k + j];
      float gj = 0.0f;
      for (int64_t i = 0; i < D; ++i) {
        gj += dxo[i] * y[i];
        dy[i] = w * dxo[i];
      }
      g[static_cast<size_t>(j)] = gj;
      g_dot_w += gj * w;
    }
    // d p: every expert from the aux loss (through q = p / sum p for a
    // sigmoid router), the chosen ones from their weights.
    const float psum = r.psum[row];
    float a_dot_q = 0.0f;
    for (int64_t e = 0; e < E; ++e) {
      d_p[static_cast<size_t>(e)] = r.aux_scale * static_cast<float>(r.load_share[e]);
      a_dot_q += d_p[static_cast<size_t>(e)] * pr[e] / psum;
    }
    if (r.sigmoid)
      for (float& x : d_p) x = (x - a_dot_q) / psum;
    for (int64_t j = 0; j < k; ++j)
      d_p[static_cast<size_t>(r.experts[row * k + j])] +=
          r.renormalise ? (r.scale * g[static_cast<size_t>(j)] - g_dot_w) / r.chosen_sum[row]
                        : r.scale * g[static_cast<size_t>(j)];
    // Through the softmax or the sigmoid, plus the z-loss.
    const float lse = r.lse[row], z_lse = r.z_scale * lse;
    if (r.sigmoid) {
      const float* lr = r.logits + row * E;
      for (int64_t e = 0; e < E; ++e)
        dl[e] = d_p[static_cast<size_t>(e)] * pr[e] * (1.0f - pr[e]) + z_lse * std::exp(lr[e] - lse);
    } else {
      float p_dot = 0.0f;
      for (int64_t e = 0; e < E; ++e) p_dot += pr[e] * d_p[static_cast<size_t>(e)];
      for (int64_t e = 0; e < E; ++e) dl[e] = pr[e] * (d_p[static_cast<size_t>(e)] - p_dot) + z_lse * pr[e];
    }
  }
}

void scaled_output_backward(const float* d_out, const float* y, const float* s, const float* x, const float* gate_w,
                            float* d_y, float* d_x, float* d_gate_w, int64_t n, int64_t d) {
  for (int64_t r = 0; r < n; ++r) {
    const float* dxo = d_out + r * d;
    const float* yr = y + r * d;
    const float sc = s[r];
    float ds = 0.0f;
    for (int64_t i = 0; i < d; ++i) {
      ds += dxo[i] * yr[i];
      d_y[r * d + i] = sc * dxo[i];
    }
    if (!gate_w) continue;
    const float dl = ds * sc * (1.0f - sc);
    const float* xr = x + r * d;
    for (int64_t i = 0; i < d; ++i) {
      d_x[r * d + i] += dl * gate_w[i];
      d_gate_w[i] += dl * xr[i];
    }
  }
}

}  // namespace frugal::train
