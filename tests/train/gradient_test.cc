// Gradients of the training model against central finite differences: each
// layer function on its own (with a random linear probe of its output as the
// loss), then the whole model, tensor by tensor (embedding, norms, attention
// with q/k norm and RoPE, router with the aux and z losses, experts, head).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "kernels/ops.h"
#include "train/layers.h"
#include "train/model_gradient_check.h"
#include "train/transformer.h"

namespace frugal::train {
namespace {

std::vector<float> random_vec(Rng& rng, size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (float& x : v) x = scale * rng.normal();
  return v;
}

double probe(const std::vector<float>& y, const std::vector<float>& c) {
  double s = 0.0;
  for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * c[i];
  return s;
}

// Checks analytic gradient `grad` of loss() with respect to `x` (perturbed in
// place) at every element: |analytic - numeric| <= atol + rtol |numeric|.
void expect_gradient(std::vector<float>& x, const std::vector<float>& grad, const std::function<double()>& loss,
                     const char* what, float eps = 1e-2f, double atol = 2e-3, double rtol = 2e-2) {
  ASSERT_EQ(x.size(), grad.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    x[i] = saved + eps;
    const double up = loss();
    x[i] = saved - eps;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2.0 * eps);
    EXPECT_NEAR(grad[i], numeric, atol + rtol * std::fabs(numeric)) << what << " element " << i;
  }
}

TEST(TrainGradient, Linear) {
  Rng rng(1);
  const int64_t n = 3, in = 5, out = 4;
  auto x = random_vec(rng, n * in), w = random_vec(rng, out * in), c = random_vec(rng, n * out);
  std::vector<float> y(n * out), dx(n * in, 0.0f), dw(out * in, 0.0f);
  auto loss = [&] {
    linear_forward(x.data(), w.data(), y.data(), n, in, out);
    return probe(y, c);
  };
  loss();
  linear_backward(c.data(), x.data(), w.data(), dx.data(), dw.data(), n, in, out);
  expect_gradient(x, dx, loss, "linear x");
  expect_gradient(w, dw, loss, "linear w");
}

TEST(TrainGradient, RmsNorm) {
  Rng rng(2);
  const int64_t n = 3, d = 8;
  auto x = random_vec(rng, n * d), w = random_vec(rng, d), c = random_vec(rng, n * d);
  std::vector<float> y(n * d), rstd(n), dx(n * d, 0.0f), dw(d, 0.0f);
  auto loss = [&] {
    rmsnorm_forward(x.data(), w.data(), y.data(), rstd.data(), n, d, 1e-6f);
    return probe(y, c);
  };
  loss();
  rmsnorm_backward(c.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), n, d);
  expect_gradient(x, dx, loss, "rmsnorm x");
  expect_gradient(w, dw, loss, "rmsnorm w");
}

TEST(TrainGradient, Rope) {
  Rng rng(3);
  const int64_t n = 5, heads = 2, hd = 8;
  std::vector<float> table(n * hd);
  rope_table(n, hd, 10000.0f, table.data());
  std::vector<int32_t> pos = {0, 1, 2, 3, 4};
  for (const bool neox : {true, false}) {  // qwen's pairing, llama's
    auto x = random_vec(rng, n * heads * hd), c = random_vec(rng, n * heads * hd);
    auto loss = [&] {
      std::vector<float> y = x;
      rope_forward(y.data(), pos.data(), table.data(), n, heads, hd, neox);
      return probe(y, c);
    };
    std::vector<float> dx = c;
    rope_backward(dx.data(), pos.data(), table.data(), n, heads, hd, neox);
    expect_gradient(x, dx, loss, neox ? "rope (neox) x" : "rope (normal) x");
  }
}

TEST(TrainGradient, CausalGqaAttention) {
  Rng rng(4);
  const AttentionShape s{2, 5, 4, 2, 8, 1.0f / std::sqrt(8.0f)};
  const int64_t rows = s.n_seq * s.t;
  auto q = random_vec(rng, rows * s.n_head * s.head_dim), k = random_vec(rng, rows * s.n_head_kv * s.head_dim),
       v = random_vec(rng, rows * s.n_head_kv * s.head_dim), c = random_vec(rng, rows * s.n_head * s.head_dim);
  std::vector<float> lse(s.n_seq * s.n_head * s.t), out(q.size());
  auto loss = [&] {
    attention_forward(s, q.data(), k.data(), v.data(), lse.data(), out.data(), nullptr);
    return probe(out, c);
  };
  loss();
  std::vector<float> dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
  ThreadPool pool(2);
  attention_backward(s, c.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), dq.data(), dk.data(), dv.data(),
                     &pool);
  expect_gradient(q, dq, loss, "attention q");
  expect_gradient(k, dk, loss, "attention k");
  expect_gradient(v, dv, loss, "attention v");
}

TEST(TrainGradient, SwiGlu) {
  Rng rng(5);
  const int64_t n = 12;
  auto g = random_vec(rng, n, 2.0f), u = random_vec(rng, n), c = random_vec(rng, n);
  std::vector<float> h(n), dg(n), du(n);
  auto loss = [&] {
    swiglu_forward(g.data(), u.data(), h.data(), n);
    return probe(h, c);
  };
  swiglu_backward(c.data(), g.data(), u.data(), dg.data(), du.data(), n);
  expect_gradient(g, dg, loss, "swiglu gate");
  expect_gradient(u, du, loss, "swiglu up");
}

// Attention with a mask the LoRA trainer's architectures add (a window,
// chunks) and optionally a sink logit per head: the gradients by finite
// differences (tests/train/attention_test.cc compares both passes with a
// double-precision reference on longer sequences).
void check_masked_attention(int64_t window, int64_t chunk, bool sinks) {
  Rng rng(6);
  const AttentionShape s{2, 6, 4, 2, 8, 1.0f / std::sqrt(8.0f)};
  const AttentionMask mask{.window = window, .chunk = chunk};
  const int64_t rows = s.n_seq * s.t;
  auto q = random_vec(rng, rows * s.n_head * s.head_dim), k = random_vec(rng, rows * s.n_head_kv * s.head_dim),
       v = random_vec(rng, rows * s.n_head_kv * s.head_dim), c = random_vec(rng, rows * s.n_head * s.head_dim);
  const std::vector<float> sink = random_vec(rng, s.n_head);
  std::vector<float> lse(s.n_seq * s.n_head * s.t), out(q.size());
  auto loss = [&] {
    attention_forward(s, q.data(), k.data(), v.data(), lse.data(), out.data(), nullptr, mask,
                      sinks ? sink.data() : nullptr);
    return probe(out, c);
  };
  loss();
  std::vector<float> dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
  attention_backward(s, c.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), dq.data(), dk.data(), dv.data(),
                     nullptr, mask);
  expect_gradient(q, dq, loss, "masked attention q");
  expect_gradient(k, dk, loss, "masked attention k");
  expect_gradient(v, dv, loss, "masked attention v");
}

// gpt-oss's attention: a window of 3 positions and a sink logit per head.
TEST(TrainGradient, WindowedAttentionWithSinks) {
  check_masked_attention(3, 0, true);
}

// llama4's chunked layers: chunks of 4 positions (rows 4 and 5 see only
// rows 4..i).
TEST(TrainGradient, ChunkedAttention) {
  check_masked_attention(0, 4, false);
}

// gpt-oss's clamped unit (kernels::swiglu_oai forward): values on both sides
// of the clamps at +-7, none within the step of them.
TEST(TrainGradient, SwiGluOai) {
  Rng rng(7);
  const int64_t n = 24;
  auto g = random_vec(rng, n, 6.0f), u = random_vec(rng, n, 6.0f), c = random_vec(rng, n);
  for (std::vector<float>* x : {&g, &u})
    for (float& e : *x)
      if (std::fabs(std::fabs(e) - 7.0f) < 0.1f) e += 0.3f;
  std::vector<float> h(n), dg(n), du(n);
  auto loss = [&] {
    kernels::swiglu_oai(g.data(), u.data(), h.data(), n);
    return probe(h, c);
  };
  swiglu_oai_backward(c.data(), g.data(), u.data(), dg.data(), du.data(), n);
  int clamped = 0;
  for (int64_t i = 0; i < n; ++i) clamped += g[i] > 7.0f || std::fabs(u[i]) > 7.0f;
  EXPECT_GT(clamped, 2);
  expect_gradient(g, dg, loss, "swiglu_oai gate");
  expect_gradient(u, du, loss, "swiglu_oai up");
}

TEST(TrainGradient, CrossEntropy) {
  Rng rng(6);
  const int64_t n = 3, vocab = 7;
  auto logits = random_vec(rng, n * vocab, 2.0f);
  std::vector<int32_t> targets = {0, 6, 3};
  std::vector<float> probs(n * vocab), d(n * vocab);
  auto loss = [&] { return cross_entropy_forward(logits.data(), targets.data(), probs.data(), n, vocab); };
  loss();
  cross_entropy_backward(probs.data(), targets.data(), d.data(), n, vocab, 1.0f);
  expect_gradient(logits, d, loss, "cross-entropy logits", 1e-3f, 1e-3, 1e-2);
}

// The whole model: every tensor, with large aux and z coefficients so the
// router's losses weigh in. Elements whose perturbation changes the routing
// (top-k is not differentiable there) are skipped.
TEST(TrainGradient, WholeModelEveryTensor) {
  ModelShape shape;
  shape.n_vocab = 11;
  shape.n_embd = 16;
  shape.n_layer = 2;
  shape.n_head = 4;
  shape.n_head_kv = 2;
  shape.head_dim = 8;
  shape.n_expert = 4;
  shape.n_expert_used = 2;
  shape.n_ff_exp = 12;
  shape.n_ctx = 8;
  RouterOptions opts;
  opts.aux_coef = 0.5f;
  opts.z_coef = 0.2f;
  expect_model_gradients(ParamLayout(make_config(shape)), opts);
}

}  // namespace
}  // namespace frugal::train
