// Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5-MoE). Per row x:
//
//   q, k, v, z, b, a  = projections of x (q, k per key head; v, z, b, a per
//                       value head; value head h reads key head kh(h))
//   [q k v]  = silu(causal depthwise conv over the last conv_kernel rows)
//   q = q / |q| / sqrt(dk),  k = k / |k|        (|x| = sqrt(sum x^2 + eps))
//   beta = sigmoid(b),  decay = exp(softplus(a + dt_bias) * A)   (A < 0)
//   per value head, with its state S (dv x dk):
//     S = decay * S;  S += beta (v - S k) k^T;  o = S q
//   out = ssm_out(rmsnorm(o, ssm_norm) * silu(z))      (per value head)
//
// The convolution's last conv_kernel - 1 inputs and every S are the
// sequence's recurrent state (KvStore::recurrent_state), zeroed at its row of
// position 0. Rows run in order within a sequence (the recurrence is exactly
// sequential, so a prompt, a chunk or a single decoding row give the same
// numbers); sequences and value heads run in parallel.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "model/forward_layers.h"

namespace frugal::model {
namespace {

float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

void l2_normalize(float* x, int64_t n, float eps, float scale) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float f = static_cast<float>(scale / std::sqrt(ss + eps));
  for (int64_t i = 0; i < n; ++i) x[i] *= f;
}

// The rows of each sequence, in batch order.
std::vector<std::vector<int64_t>> rows_by_sequence(std::span<const BatchRow> rows) {
  std::vector<std::vector<int64_t>> out;
  std::vector<int32_t> seqs;
  for (int64_t r = 0; r < static_cast<int64_t>(rows.size()); ++r) {
    const int32_t seq = rows[static_cast<size_t>(r)].seq;
    const auto it = std::find(seqs.begin(), seqs.end(), seq);
    if (it == seqs.end()) {
      seqs.push_back(seq);
      out.push_back({r});
    } else {
      out[static_cast<size_t>(it - seqs.begin())].push_back(r);
    }
  }
  return out;
}

}  // namespace

void delta_net_layer(const Model& m, int64_t il, std::span<const BatchRow> rows, KvStore& kv, Forward::Scratch& s,
                     ThreadPool* pool, float* out) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.weights().layers[static_cast<size_t>(il)];
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t nk = c.ssm_n_k_head, nv = c.ssm_n_v_head, dk = c.ssm_k_head_dim, dv = c.ssm_v_head_dim;
  const int64_t r = nv / nk;  // value heads per key head
  const int64_t C = c.ssm_conv_channels(), K = c.ssm_conv_kernel, nz = nv * dv;
  const float* xn = s.xn.v.data();
  float* qkv = s.ssm_qkv.get(n * C);
  float* z = s.ssm_z.get(n * nz);
  float* beta = s.ssm_beta.get(n * nv);
  float* decay = s.ssm_decay.get(n * nv);

  // Projections, into [q all heads, k all heads, v all heads], z, beta and
  // the raw alpha (in decay) per row, value heads in one order: h = g * r + j
  // for the grouped layout, as the file orders them for the split one.
  if (c.ssm_split_proj) {
    const kernels::MatmulOut outs[] = {{L.wqkv, qkv, C}, {L.wgate, z, nz}, {L.ssm_beta, beta, nv},
                                       {L.ssm_alpha, decay, nv}};
    kernels::matmul_group(outs, xn, c.n_embd, n, pool);
  } else {
    const int64_t width = 2 * nk * dk + 2 * nz;
    float* mixed = s.ssm_proj.get(n * width);
    float* ba = s.ssm_proj2.get(n * 2 * nv);
    const kernels::MatmulOut outs[] = {{L.ssm_in, mixed, width}, {L.ssm_ba, ba, 2 * nv}};
    kernels::matmul_group(outs, xn, c.n_embd, n, pool);
    const int64_t group = 2 * dk + 2 * r * dv;  // one key head's [q, k, v, z]
    for (int64_t row = 0; row < n; ++row) {
      const float* src = mixed + row * width;
      float* dst = qkv + row * C;
      for (int64_t g = 0; g < nk; ++g) {
        const float* gs = src + g * group;
        std::memcpy(dst + g * dk, gs, sizeof(float) * size_t(dk));
        std::memcpy(dst + nk * dk + g * dk, gs + dk, sizeof(float) * size_t(dk));
        std::memcpy(dst + 2 * nk * dk + g * r * dv, gs + 2 * dk, sizeof(float) * size_t(r * dv));
        std::memcpy(z + row * nz + g * r * dv, gs + 2 * dk + r * dv, sizeof(float) * size_t(r * dv));
        for (int64_t j = 0; j < r; ++j) {
          beta[row * nv + g * r + j] = ba[row * 2 * nv + g * 2 * r + j];
          decay[row * nv + g * r + j] = ba[row * 2 * nv + g * 2 * r + r + j];
        }
      }
    }
  }
  for (int64_t i = 0; i < n * nv; ++i) {
    const int64_t h = i % nv;
    beta[i] = kernels::sigmoid(beta[i]);
    decay[i] = std::exp(softplus(decay[i] + L.ssm_dt.data[h]) * L.ssm_a.data[h]);
  }

  // Each sequence's state; zeroed where the sequence starts.
  const auto seq_rows = rows_by_sequence(rows);
  const int64_t n_seq = static_cast<int64_t>(seq_rows.size());
  const int64_t conv_floats = (K - 1) * C;
  std::vector<float*> state(static_cast<size_t>(n_seq));
  for (int64_t q = 0; q < n_seq; ++q) {
    const BatchRow& first = rows[static_cast<size_t>(seq_rows[static_cast<size_t>(q)].front())];
    state[static_cast<size_t>(q)] = kv.recurrent_state(il, first.seq);
    if (first.pos == 0) std::fill_n(state[static_cast<size_t>(q)], c.recurrent_state_floats(), 0.0f);
  }

  // The causal convolution, silu, and the q/k normalisation: one task per
  // sequence (its rows in order through the conv state).
  float* conv = s.ssm_conv.get(n * C);
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(dk));
  auto conv_task = [&](int64_t q, int) {
    float* cs = state[static_cast<size_t>(q)];  // K - 1 rows of C, oldest first
    for (int64_t row : seq_rows[static_cast<size_t>(q)]) {
      const float* x = qkv + row * C;
      float* y = conv + row * C;
      for (int64_t ch = 0; ch < C; ++ch) {
        const float* w = L.ssm_conv.data + ch * K;
        float acc = w[K - 1] * x[ch];
        for (int64_t i = 0; i < K - 1; ++i) acc += w[i] * cs[i * C + ch];
        y[ch] = kernels::silu(acc);
      }
      if (K > 1) {
        std::memmove(cs, cs + C, sizeof(float) * size_t((K - 2) * C));
        std::memcpy(cs + (K - 2) * C, x, sizeof(float) * size_t(C));
      }
      for (int64_t g = 0; g < nk; ++g) {
        l2_normalize(y + g * dk, dk, c.norm_eps, q_scale);
        l2_normalize(y + nk * dk + g * dk, dk, c.norm_eps, 1.0f);
      }
    }
  };
  if (pool && n_seq > 1) pool->run(n_seq, conv_task);
  else
    for (int64_t q = 0; q < n_seq; ++q) conv_task(q, 0);

  // The delta rule: one task per (sequence, value head). o goes into the
  // attention buffer, then each head's output is normalised and gated by z.
  float* o = s.att.get(n * nz);
  auto delta_task = [&](int64_t t, int) {
    const int64_t q = t / nv, h = t % nv;
    const int64_t kh = c.ssm_split_proj ? h % nk : h / r;
    float* S = state[static_cast<size_t>(q)] + conv_floats + h * dv * dk;
    for (int64_t row : seq_rows[static_cast<size_t>(q)]) {
      const float* y = conv + row * C;
      const float* qh = y + kh * dk;
      const float* kk = y + nk * dk + kh * dk;
      const float* vh = y + 2 * nk * dk + h * dv;
      const float dcy = decay[row * nv + h], b = beta[row * nv + h];
      float* oh = o + row * nz + h * dv;
      for (int64_t i = 0; i < dv; ++i) {
        float* Si = S + i * dk;
        for (int64_t j = 0; j < dk; ++j) Si[j] *= dcy;
        const float u = b * (vh[i] - kernels::dot(Si, kk, dk));
        kernels::axpy(u, kk, Si, dk);
        oh[i] = kernels::dot(Si, qh, dk);
      }
    }
  };
  if (pool && n_seq * nv > 1) pool->run(n_seq * nv, delta_task);
  else
    for (int64_t t = 0; t < n_seq * nv; ++t) delta_task(t, 0);

  for (int64_t row = 0; row < n; ++row)
    for (int64_t h = 0; h < nv; ++h) {
      float* oh = o + row * nz + h * dv;
      const float* zh = z + row * nz + h * dv;
      kernels::rmsnorm(oh, L.ssm_norm.data, oh, dv, c.norm_eps);
      for (int64_t i = 0; i < dv; ++i) oh[i] *= kernels::silu(zh[i]);
    }
  kernels::matmul(L.ssm_out, o, nz, n, out, c.n_embd, pool);
}

}  // namespace frugal::model
