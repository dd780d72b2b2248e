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
#include "model/deltanet_math.h"
#include "model/forward_layers.h"
#include "model/lora.h"

namespace frugal::model {
namespace {

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
  const int64_t C = c.ssm_conv_channels(), K = c.ssm_conv_kernel, nz = nv * dv;
  const float* xn = s.xn.v.data();
  float* qkv = s.ssm_qkv.get(n * C);
  float* z = s.ssm_z.get(n * nz);
  float* beta = s.ssm_beta.get(n * nv);
  float* decay = s.ssm_decay.get(n * nv);

  // Projections, into [q all heads, k all heads, v all heads], z, beta and
  // the raw alpha (in decay) per row, value heads in one order: h = g * r + j
  // for the grouped layout, as the file orders them for the split one.
  // An adapter's products are added to the projections as the file lays
  // them out (ssm_in, ssm_ba or the split four), before the layout moves.
  if (c.ssm_split_proj) {
    const kernels::MatmulOut outs[] = {{L.wqkv, qkv, C}, {L.wgate, z, nz}, {L.ssm_beta, beta, nv},
                                       {L.ssm_alpha, decay, nv}};
    kernels::matmul_group(outs, xn, c.n_embd, n, pool);
    for_each_lora_run(s, il, n, [&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
      const float* x = xn + b * c.n_embd;
      if (LL.wqkv) lora_apply(LL.wqkv, scale, x, c.n_embd, cnt, qkv + b * C, C, pool);
      if (LL.wgate) lora_apply(LL.wgate, scale, x, c.n_embd, cnt, z + b * nz, nz, pool);
      if (LL.ssm_beta) lora_apply(LL.ssm_beta, scale, x, c.n_embd, cnt, beta + b * nv, nv, pool);
      if (LL.ssm_alpha) lora_apply(LL.ssm_alpha, scale, x, c.n_embd, cnt, decay + b * nv, nv, pool);
    });
  } else {
    const int64_t width = 2 * nk * dk + 2 * nz;
    float* mixed = s.ssm_proj.get(n * width);
    float* ba = s.ssm_proj2.get(n * 2 * nv);
    const kernels::MatmulOut outs[] = {{L.ssm_in, mixed, width}, {L.ssm_ba, ba, 2 * nv}};
    kernels::matmul_group(outs, xn, c.n_embd, n, pool);
    for_each_lora_run(s, il, n, [&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
      const float* x = xn + b * c.n_embd;
      if (LL.ssm_in) lora_apply(LL.ssm_in, scale, x, c.n_embd, cnt, mixed + b * width, width, pool);
      if (LL.ssm_ba) lora_apply(LL.ssm_ba, scale, x, c.n_embd, cnt, ba + b * 2 * nv, 2 * nv, pool);
    });
    delta_net_regroup(c, n, mixed, ba, qkv, z, beta, decay, true);
  }
  delta_net_gates(L, n, nv, beta, decay);

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
    const int64_t kh = delta_net_key_head(c, h);
    float* S = state[static_cast<size_t>(q)] + conv_floats + h * dv * dk;
    for (int64_t row : seq_rows[static_cast<size_t>(q)]) {
      const float* y = conv + row * C;
      const float* qh = y + kh * dk;
      const float* kk = y + nk * dk + kh * dk;
      const float* vh = y + 2 * nk * dk + h * dv;
      delta_rule_step(S, qh, kk, vh, decay[row * nv + h], beta[row * nv + h], dv, dk, o + row * nz + h * dv);
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
  for_each_lora_run(s, il, n, [&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
    if (LL.ssm_out) lora_apply(LL.ssm_out, scale, o + b * nz, nz, cnt, out + b * c.n_embd, c.n_embd, pool);
  });
}

}  // namespace frugal::model
