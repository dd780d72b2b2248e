// The Gated DeltaNet math shared by inference and training (see deltanet_math.h).
#include "model/deltanet_math.h"

#include <cmath>
#include <cstring>

#include "kernels/ops.h"

namespace frugal::model {

float l2_normalize(float* x, int64_t n, float eps, float scale) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float f = static_cast<float>(scale / std::sqrt(ss + eps));
  for (int64_t i = 0; i < n; ++i) x[i] *= f;
  return f;
}

void delta_net_regroup(const ModelConfig& c, int64_t n, float* mixed, float* ba, float* qkv, float* z, float* b,
                       float* a, bool to_split) {
  const int64_t nk = c.ssm_n_k_head, nv = c.ssm_n_v_head, dk = c.ssm_k_head_dim, dv = c.ssm_v_head_dim;
  const int64_t r = nv / nk, nz = nv * dv, C = c.ssm_conv_channels();
  const int64_t width = 2 * nk * dk + 2 * nz, group = 2 * dk + 2 * r * dv;  // one key head's [q, k, v, z]
  auto move = [to_split](float* grouped, float* split, int64_t count) {
    if (to_split) std::memcpy(split, grouped, sizeof(float) * size_t(count));
    else std::memcpy(grouped, split, sizeof(float) * size_t(count));
  };
  for (int64_t row = 0; row < n; ++row) {
    float* src = mixed + row * width;
    float* dst = qkv + row * C;
    for (int64_t g = 0; g < nk; ++g) {
      float* gs = src + g * group;
      move(gs, dst + g * dk, dk);
      move(gs + dk, dst + nk * dk + g * dk, dk);
      move(gs + 2 * dk, dst + 2 * nk * dk + g * r * dv, r * dv);
      move(gs + 2 * dk + r * dv, z + row * nz + g * r * dv, r * dv);
      move(ba + row * 2 * nv + g * 2 * r, b + row * nv + g * r, r);
      move(ba + row * 2 * nv + g * 2 * r + r, a + row * nv + g * r, r);
    }
  }
}

void delta_net_gates(const LayerWeights& L, int64_t n, int64_t nv, float* b, float* a) {
  for (int64_t i = 0; i < n * nv; ++i) {
    const int64_t h = i % nv;
    b[i] = kernels::sigmoid(b[i]);
    a[i] = std::exp(softplus(a[i] + L.ssm_dt.data[h]) * L.ssm_a.data[h]);
  }
}

void delta_rule_step(float* S, const float* q, const float* k, const float* v, float decay, float beta, int64_t dv,
                     int64_t dk, float* o) {
  for (int64_t i = 0; i < dv; ++i) {
    float* Si = S + i * dk;
    for (int64_t j = 0; j < dk; ++j) Si[j] *= decay;
    const float u = beta * (v[i] - kernels::dot(Si, k, dk));
    kernels::axpy(u, k, Si, dk);
    o[i] = kernels::dot(Si, q, dk);
  }
}

}  // namespace frugal::model
