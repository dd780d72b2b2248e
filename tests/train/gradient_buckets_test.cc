// GradientBuckets (data-parallel training's gradient sum overlapped with the
// backward pass), seen through a group of one rank, whose sum of an array is
// the array itself: every bucket is started only once the backward pass has
// finished its values (what start_sum is handed equals, bit for bit, the
// gradient after the whole pass), the buckets cover every value exactly once
// at every bucket size, and size 0 is one sum of the whole array after the pass.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "train/gradient_buckets.h"
#include "train/train_model.h"
#include "train/transformer.h"

namespace frugal::train {
namespace {

// One rank: a sum leaves the data as it is. Records what each started sum
// held when it started, and when the pass was waited for.
class OneRank final : public GradientSum {
 public:
  explicit OneRank(const float* base) : base_(base) {}
  int rank() const override { return 0; }
  int n_ranks() const override { return 1; }
  void sum(float*, size_t) override {}
  void sum(double*, size_t) override {}
  SumHandle start_sum(float* data, size_t n) override {
    started[static_cast<size_t>(data - base_)] = std::vector<float>(data, data + n);
    starts_before_wait += waited ? 0 : 1;
    return static_cast<SumHandle>(started.size()) - 1;
  }
  void wait_sums(SumHandle) override { waited = true; }
  void progress() override { ++progress_calls; }

  std::map<size_t, std::vector<float>> started;  // by offset in the array
  int starts_before_wait = 0, progress_calls = 0;
  bool waited = false;

 private:
  const float* base_;
};

struct Pass {
  ParamLayout layout;
  std::vector<float> params;
  std::vector<int32_t> tokens, targets;
  static constexpr int64_t B = 2, T = 8;

  explicit Pass(const ModelShape& s) : layout(make_config(s)), params(layout.n_params()) {
    init_params(layout, 3, params.data());
    Rng rng(17);
    for (int64_t i = 0; i < B * T; ++i) {
      tokens.push_back(static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(s.n_vocab)));
      targets.push_back(static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(s.n_vocab)));
    }
  }

  // One pass's gradient into grads, summed in buckets of bucket_bytes
  // through the group it returns.
  std::unique_ptr<OneRank> run(size_t bucket_bytes, std::vector<float>& grads) {
    ThreadPool pool(2);
    Transformer model(layout, B, T, &pool);
    grads.assign(layout.n_params(), 0.0f);
    auto group = std::make_unique<OneRank>(grads.data());
    GradientBuckets buckets(layout, *group, bucket_bytes);
    model.forward(params.data(), nullptr, tokens.data(), targets.data(), RouterOptions{});
    buckets.begin(grads.data());
    model.backward(params.data(), grads.data(), 1.0f, [&](int64_t layer) { buckets.layer_done(layer); });
    buckets.finish();
    return group;
  }
};

void check_buckets(const ModelShape& s) {
  Pass pass(s);
  const size_t n = pass.layout.n_params();
  for (const size_t bucket_bytes : {size_t{0}, size_t{1}, size_t{4096}, size_t{65536}, size_t{1} << 30}) {
    std::vector<float> grads;
    const std::unique_ptr<OneRank> seen = pass.run(bucket_bytes, grads);
    SCOPED_TRACE(bucket_bytes);
    // The buckets tile the array, and each held its final values when it started.
    size_t at = 0;
    for (const auto& [offset, values] : seen->started) {
      ASSERT_EQ(offset, at);
      EXPECT_EQ(std::memcmp(values.data(), grads.data() + offset, values.size() * sizeof(float)), 0)
          << "a bucket at " << offset << " was started before its gradients were final";
      at += values.size();
    }
    EXPECT_EQ(at, n);
    EXPECT_TRUE(seen->waited);
    if (bucket_bytes == 0) {
      EXPECT_EQ(seen->started.size(), 1u);
      EXPECT_EQ(seen->progress_calls, 0);
    } else {
      EXPECT_EQ(seen->progress_calls, s.n_layer + 1);  // the head, then each layer
    }
    // One byte: every tensor is a bucket of its own.
    if (bucket_bytes == 1) {
      EXPECT_EQ(seen->started.size(), pass.layout.tensors().size());
    }
    // 4 KB: most of the sums start while the pass is still running.
    if (bucket_bytes == 4096) {
      EXPECT_GT(seen->started.size(), 3u);
    }
  }
}

ModelShape small_shape() {
  return {.n_vocab = 40, .n_embd = 16, .n_layer = 3, .n_head = 2, .n_head_kv = 1, .head_dim = 8, .n_expert = 4,
          .n_expert_used = 2, .n_ff_exp = 12, .n_ctx = 8, .n_ff_shexp = 0, .arch = ""};
}

TEST(GradientBuckets, EachBucketStartsWithItsFinalGradients) { check_buckets(small_shape()); }

TEST(GradientBuckets, OtherLayoutsToo) {
  for (const char* arch : {"llama", "olmoe"}) {
    SCOPED_TRACE(arch);
    ModelShape s = small_shape();
    s.arch = arch;
    check_buckets(s);
  }
}

TEST(GradientBuckets, SharedExpertLayoutToo) {
  ModelShape s = small_shape();
  s.n_ff_shexp = 16;  // qwen2moe: biases and the shared expert's tensors
  check_buckets(s);
}

}  // namespace
}  // namespace frugal::train
