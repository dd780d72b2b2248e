// The adapted Gated DeltaNet layer's forward and backward (see lora_deltanet.h).
#include "finetune/lora_deltanet.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "model/deltanet_math.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// The layer's sizes: key and value heads and their widths, the
// convolution's channels ([q, k, v]) and taps, z's width.
struct Dims {
  explicit Dims(const model::ModelConfig& c)
      : nk(c.ssm_n_k_head),
        nv(c.ssm_n_v_head),
        dk(c.ssm_k_head_dim),
        dv(c.ssm_v_head_dim),
        C(c.ssm_conv_channels()),
        K(c.ssm_conv_kernel),
        nz(nv * dv) {}
  const int64_t nk, nv, dk, dv, C, K, nz;
  // Row t's q and k of key head g, and v of value head h, in the conv output.
  int64_t q_at(int64_t t, int64_t g) const { return t * C + g * dk; }
  int64_t k_at(int64_t t, int64_t g) const { return t * C + nk * dk + g * dk; }
  int64_t v_at(int64_t t, int64_t h) const { return t * C + 2 * nk * dk + h * dv; }
};

float dsilu(float x) {
  const float s = kernels::sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}

// softplus'(x), with softplus as model::softplus takes it (x itself past 20).
float dsoftplus(float x) { return x > 20.0f ? 1.0f : kernels::sigmoid(x); }

// The factor q's normalisation scales it by, beyond 1/|q|.
float q_scale(const Dims& d) { return 1.0f / std::sqrt(static_cast<float>(d.dk)); }

// Rows [s0, s1) of value head h's recurrence from the state before s0 in
// states[0]: states[t - s0 + 1] is the state after row t.
void replay(const LoraPass& p, const DeltaNetActs& a, const Dims& d, int64_t h, int64_t s0, int64_t s1, F& states) {
  const int64_t kh = model::delta_net_key_head(p.c, h), sz = d.dv * d.dk;
  F o(static_cast<size_t>(d.dv));
  for (int64_t t = s0; t < s1; ++t) {
    float* S = states.data() + (t - s0 + 1) * sz;
    std::copy_n(S - sz, sz, S);
    model::delta_rule_step(S, a.y.data() + d.q_at(t, kh), a.y.data() + d.k_at(t, kh), a.y.data() + d.v_at(t, h),
                           a.decay[static_cast<size_t>(t * d.nv + h)], a.beta[static_cast<size_t>(t * d.nv + h)], d.dv,
                           d.dk, o.data());
  }
}

// One row's step of the delta rule backward: S_t = P + u k^T with P =
// decay S_prev and u = beta (v - P k), o = S_t q. dS holds the gradient of
// S_t in and of S_prev out; the row's q, k, v, beta and decay gradients are
// added.
struct StepGrads {
  float *dq, *dk, *dv, *d_beta, *d_decay;
};
void step_backward(const float* S_prev, const float* S, const float* q, const float* k, const float* v, float decay,
                   float beta, const float* d_o, int64_t dv, int64_t dk, float* dS, const StepGrads& g) {
  for (int64_t i = 0; i < dv; ++i) {
    const float* Sp = S_prev + i * dk;
    const float* Sn = S + i * dk;
    float* dSi = dS + i * dk;
    // o = S_t q.
    for (int64_t j = 0; j < dk; ++j) {
      dSi[j] += d_o[i] * q[j];
      g.dq[j] += Sn[j] * d_o[i];
    }
    const float e = v[i] - decay * kernels::dot(Sp, k, dk), u = beta * e;
    const float du = kernels::dot(dSi, k, dk), de = beta * du;
    *g.d_beta += du * e;
    g.dv[i] += de;
    float d_decay = 0;
    for (int64_t j = 0; j < dk; ++j) {
      g.dk[j] += dSi[j] * u - decay * Sp[j] * de;
      const float dP = dSi[j] - de * k[j];
      d_decay += dP * Sp[j];
      dSi[j] = decay * dP;
    }
    *g.d_decay += d_decay;
  }
}

}  // namespace

void delta_net_forward(const LoraPass& p, int64_t il, const F& xn1, DeltaNetActs& a, Kept& ax, F& x) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const Dims d(c);
  const int64_t T = p.T;
  // The in-projections into [q, k, v], z, b and the raw alpha.
  F qkv;
  if (c.ssm_split_proj) {
    p.linear(il, kDnQkv, xn1.data(), qkv, ax[kDnQkv]);
    p.linear(il, kDnZ, xn1.data(), a.z, ax[kDnZ]);
    p.linear(il, kDnBeta, xn1.data(), a.beta, ax[kDnBeta]);
    p.linear(il, kDnAlpha, xn1.data(), a.alpha_raw, ax[kDnAlpha]);
  } else {
    F mixed, ba;
    p.linear(il, kDnIn, xn1.data(), mixed, ax[kDnIn]);
    p.linear(il, kDnBa, xn1.data(), ba, ax[kDnBa]);
    qkv = zeros(T * d.C);
    a.z = zeros(T * d.nz);
    a.beta = zeros(T * d.nv);
    a.alpha_raw = zeros(T * d.nv);
    model::delta_net_regroup(c, T, mixed.data(), ba.data(), qkv.data(), a.z.data(), a.beta.data(),
                             a.alpha_raw.data(), true);
  }
  a.decay = a.alpha_raw;
  model::delta_net_gates(L, T, d.nv, a.beta.data(), a.decay.data());

  // The causal convolution (zeros before the sequence), silu, and q/k
  // normalised per key head.
  a.pre = zeros(T * d.C);
  a.y = zeros(T * d.C);
  a.inv_norm = zeros(T * 2 * d.nk);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t ch = 0; ch < d.C; ++ch) {
      const float* w = L.ssm_conv.data + ch * d.K;
      float acc = w[d.K - 1] * qkv[static_cast<size_t>(t * d.C + ch)];
      for (int64_t i = 0; i < d.K - 1; ++i) {
        const int64_t src = t - (d.K - 1) + i;
        if (src >= 0) acc += w[i] * qkv[static_cast<size_t>(src * d.C + ch)];
      }
      a.pre[static_cast<size_t>(t * d.C + ch)] = acc;
      a.y[static_cast<size_t>(t * d.C + ch)] = kernels::silu(acc);
    }
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < d.nk; ++g) {
      float* f = a.inv_norm.data() + t * 2 * d.nk;
      f[g] = model::l2_normalize(a.y.data() + d.q_at(t, g), d.dk, c.norm_eps, q_scale(d));
      f[d.nk + g] = model::l2_normalize(a.y.data() + d.k_at(t, g), d.dk, c.norm_eps, 1.0f);
    }

  // The delta rule per value head, its state kept every `every` rows.
  a.every = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(T)))));
  const int64_t n_kept = (T + a.every - 1) / a.every, sz = d.dv * d.dk;
  a.kept = zeros(d.nv * n_kept * sz);
  a.o = zeros(T * d.nz);
  F S = zeros(sz);
  for (int64_t h = 0; h < d.nv; ++h) {
    const int64_t kh = model::delta_net_key_head(c, h);
    std::fill(S.begin(), S.end(), 0.0f);
    for (int64_t t = 0; t < T; ++t) {
      if (t % a.every == 0) std::copy(S.begin(), S.end(), a.kept.begin() + (h * n_kept + t / a.every) * sz);
      model::delta_rule_step(S.data(), a.y.data() + d.q_at(t, kh), a.y.data() + d.k_at(t, kh),
                             a.y.data() + d.v_at(t, h), a.decay[static_cast<size_t>(t * d.nv + h)],
                             a.beta[static_cast<size_t>(t * d.nv + h)], d.dv, d.dk, a.o.data() + t * d.nz + h * d.dv);
    }
  }

  // The gated norm per value head, then ssm_out.
  F on;
  p.rmsnorm(a.o.data(), L.ssm_norm.data, T * d.nv, d.dv, on, a.rstd);
  a.gated = zeros(T * d.nz);
  for (size_t i = 0; i < on.size(); ++i) a.gated[i] = on[i] * kernels::silu(a.z[i]);
  F out;
  p.linear(il, kDnOut, a.gated.data(), out, ax[kDnOut]);
  for (size_t i = 0; i < x.size(); ++i) x[i] += out[i];
}

void delta_net_backward(const LoraPass& p, int64_t il, const F& xn1, const DeltaNetActs& a, const Kept& ax,
                        const F& d_x, F& d_xn1) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const Dims d(c);
  const int64_t T = p.T;

  // ssm_out and the gated norm: gated = rmsnorm(o) * silu(z).
  F d_gated = zeros(T * d.nz), d_on = zeros(T * d.nz), d_z = zeros(T * d.nz), d_o = zeros(T * d.nz);
  p.linear_back(il, kDnOut, a.gated.data(), ax[kDnOut], d_x.data(), d_gated.data());
  for (int64_t i = 0; i < T * d.nz; ++i) {
    const size_t u = static_cast<size_t>(i);
    const float on = a.o[u] * a.rstd[static_cast<size_t>(i / d.dv)] * L.ssm_norm.data[i % d.dv];
    d_on[u] = d_gated[u] * kernels::silu(a.z[u]);
    d_z[u] = d_gated[u] * on * dsilu(a.z[u]);
  }
  F d_w = zeros(d.dv);  // ssm_norm is frozen: its gradient is dropped here
  train::rmsnorm_backward(d_on.data(), a.o.data(), L.ssm_norm.data, a.rstd.data(), d_o.data(), d_w.data(),
                          T * d.nv, d.dv);

  // The delta rule backward, per value head from the last row: each span of
  // `every` rows replayed from its kept state, then walked back.
  F d_y = zeros(T * d.C), d_beta = zeros(T * d.nv), d_decay = zeros(T * d.nv);
  const int64_t n_kept = (T + a.every - 1) / a.every, sz = d.dv * d.dk;
  F states = zeros((a.every + 1) * sz), dS = zeros(sz);
  for (int64_t h = 0; h < d.nv; ++h) {
    const int64_t kh = model::delta_net_key_head(c, h);
    std::fill(dS.begin(), dS.end(), 0.0f);
    for (int64_t span = n_kept - 1; span >= 0; --span) {
      const int64_t s0 = span * a.every, s1 = std::min(T, s0 + a.every);
      std::copy_n(a.kept.begin() + (h * n_kept + span) * sz, sz, states.begin());
      replay(p, a, d, h, s0, s1, states);
      for (int64_t t = s1 - 1; t >= s0; --t) {
        const size_t gi = static_cast<size_t>(t * d.nv + h);
        const StepGrads g{.dq = d_y.data() + d.q_at(t, kh),
                          .dk = d_y.data() + d.k_at(t, kh),
                          .dv = d_y.data() + d.v_at(t, h),
                          .d_beta = &d_beta[gi],
                          .d_decay = &d_decay[gi]};
        step_backward(states.data() + (t - s0) * sz, states.data() + (t - s0 + 1) * sz, a.y.data() + d.q_at(t, kh),
                      a.y.data() + d.k_at(t, kh), a.y.data() + d.v_at(t, h), a.decay[gi], a.beta[gi],
                      d_o.data() + t * d.nz + h * d.dv, d.dv, d.dk, dS.data(), g);
      }
    }
  }

  // The gates: beta = sigmoid(b), decay = exp(softplus(alpha + dt) * A).
  F d_b = zeros(T * d.nv), d_a = zeros(T * d.nv);
  for (int64_t i = 0; i < T * d.nv; ++i) {
    const size_t u = static_cast<size_t>(i);
    const int64_t h = i % d.nv;
    d_b[u] = d_beta[u] * a.beta[u] * (1.0f - a.beta[u]);
    d_a[u] = d_decay[u] * a.decay[u] * L.ssm_a.data[h] * dsoftplus(a.alpha_raw[u] + L.ssm_dt.data[h]);
  }

  // q/k normalisation (out = f y with f = s / sqrt(|y|^2 + eps): d_y = f
  // d_out - out (d_out . out) f / s^2), silu, then the convolution.
  for (int64_t t = 0; t < T; ++t)
    for (int64_t part = 0; part < 2 * d.nk; ++part) {
      const int64_t at = part < d.nk ? d.q_at(t, part) : d.k_at(t, part - d.nk);
      const float s = part < d.nk ? q_scale(d) : 1.0f, f = a.inv_norm[static_cast<size_t>(t * 2 * d.nk + part)];
      const float* out = a.y.data() + at;
      float* dy = d_y.data() + at;
      const float k = kernels::dot(dy, out, d.dk) * f / (s * s);
      for (int64_t j = 0; j < d.dk; ++j) dy[j] = f * dy[j] - out[j] * k;
    }
  F d_qkv = zeros(T * d.C);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t ch = 0; ch < d.C; ++ch) {
      const size_t u = static_cast<size_t>(t * d.C + ch);
      const float d_pre = d_y[u] * dsilu(a.pre[u]);
      const float* w = L.ssm_conv.data + ch * d.K;
      for (int64_t i = 0; i < d.K; ++i) {
        const int64_t src = t - (d.K - 1) + i;
        if (src >= 0) d_qkv[static_cast<size_t>(src * d.C + ch)] += w[i] * d_pre;
      }
    }

  // The in-projections, in the file's layout.
  if (c.ssm_split_proj) {
    p.linear_back(il, kDnQkv, xn1.data(), ax[kDnQkv], d_qkv.data(), d_xn1.data());
    p.linear_back(il, kDnZ, xn1.data(), ax[kDnZ], d_z.data(), d_xn1.data());
    p.linear_back(il, kDnBeta, xn1.data(), ax[kDnBeta], d_b.data(), d_xn1.data());
    p.linear_back(il, kDnAlpha, xn1.data(), ax[kDnAlpha], d_a.data(), d_xn1.data());
  } else {
    F d_mixed = zeros(T * p.slot(il, kDnIn).w.n_out), d_ba = zeros(T * 2 * d.nv);
    model::delta_net_regroup(c, T, d_mixed.data(), d_ba.data(), d_qkv.data(), d_z.data(), d_b.data(), d_a.data(),
                             false);
    p.linear_back(il, kDnIn, xn1.data(), ax[kDnIn], d_mixed.data(), d_xn1.data());
    p.linear_back(il, kDnBa, xn1.data(), ax[kDnBa], d_ba.data(), d_xn1.data());
  }
}

}  // namespace frugal::finetune
