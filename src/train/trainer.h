// The training loop's state and one optimizer step: micro-batches sampled
// from the token stream, forward/backward with gradient accumulation, global
// norm clipping, AdamW on the scheduled learning rate, and the optional
// auxiliary-loss-free balancing (a per-expert selection bias nudged against
// the step's load). Deterministic for a seed and thread count: batch k of
// step s is drawn from an Rng seeded by (seed, s, k), so the data position is
// the step counter and a resumed run draws exactly the batches it would have.
//
// Data-parallel (TrainOptions::data_parallel): rank r of N draws the same
// micro-batches and computes sequences [r B/N, (r+1) B/N) of each, reading
// only those sequences' windows of the token stream (of a token file: only
// those bytes); the gradients, losses and expert counts are summed over the
// ranks before the step, so every rank holds the same parameters, and the
// run follows one process's at batch B up to the order of the sums. The
// load-balancing loss is each rank's over its own share (its gradient is
// not linear in the batch), so runs agree exactly only with --aux-coef 0. The gradient's sum
// runs in buckets during the last micro-batch's backward pass (its earlier
// micro-batches add to the same gradients, which are final only then).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "base/thread_pool.h"
#include "train/data_parallel.h"
#include "train/gradient_buckets.h"
#include "train/optimizer.h"
#include "train/token_stream.h"
#include "train/transformer.h"

namespace frugal::train {

struct TrainOptions {
  int64_t steps = 100;      // optimizer steps
  int64_t batch = 8;        // sequences per micro-batch
  int64_t seq_len = 64;     // tokens per sequence
  int64_t accum = 1;        // micro-batches per optimizer step
  float clip = 1.0f;        // global gradient norm limit (<= 0: off)
  ScheduleOptions schedule;  // total_steps is set from steps
  AdamWOptions adam;
  RouterOptions router;
  bool bias_balance = false;  // DeepSeek-V3 auxiliary-loss-free balancing
  // Matrix products in bf16 with f32 master weights (linear.h); the Trainer
  // turns them on process-wide, on its pool, for as long as it lives.
  bool bf16_products = false;
  float bias_rate = 1e-3f;    // bias change per step
  uint64_t seed = 1;
  int64_t eval_batches = 4;   // validation micro-batches per evaluation
  GradientSum* data_parallel = nullptr;  // null: one process; batch must be a multiple of its n_ranks()
  // Data-parallel: the gradient is summed in buckets of this size as the
  // backward pass finishes them (gradient_buckets.h); 0: one sum after it.
  size_t dp_bucket_bytes = 4000000;  // --dp-bucket-mb 4
};

struct StepStats {
  int64_t step = 0;  // steps done after this one
  float lr = 0.0f;
  double loss = 0.0;       // mean cross-entropy over the step's micro-batches
  double aux_loss = 0.0;
  double z_loss = 0.0;
  double grad_norm = 0.0;  // before clipping
  int64_t tokens = 0;
  std::vector<std::vector<double>> expert_load;  // [layer][expert]: share of routed tokens
  std::vector<double> router_entropy;            // [layer]
};

struct EvalStats {
  double loss = 0.0;  // mean cross-entropy per token
  double ppl = 0.0;
  int64_t tokens = 0;
  std::vector<std::vector<double>> expert_load;
  std::vector<double> router_entropy;
};

class Trainer {
 public:
  // Fresh parameters from opts.seed. The token streams must each hold more
  // than seq_len + 1 tokens (val may be empty: no evaluation).
  Trainer(const model::ModelConfig& cfg, const TrainOptions& opts, TokenStream train_tokens, TokenStream val_tokens,
          ThreadPool* pool);
  ~Trainer();  // turns bf16 products off again when it turned them on
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  StepStats step();
  EvalStats evaluate();

  const ParamLayout& layout() const { return layout_; }
  const TrainOptions& options() const { return opts_; }
  int64_t steps_done() const { return step_; }
  int64_t train_tokens() const { return static_cast<int64_t>(train_.size()); }
  int64_t val_tokens() const { return static_cast<int64_t>(val_.size()); }
  const TokenStream& train_stream() const { return train_; }
  const TokenStream& val_stream() const { return val_; }
  void set_steps_done(int64_t s) { step_ = s; }
  std::vector<float>& params() { return params_; }
  std::vector<float>& selection_bias() { return bias_; }  // n_layer x n_expert
  AdamW& optimizer() { return adam_; }

 private:
  void sample_batch(uint64_t stream, std::vector<int32_t>& tokens, std::vector<int32_t>& targets) const;
  // This rank's sequences of a micro-batch of opts.batch: [first, first + local_batch()).
  int64_t local_batch() const;
  int64_t first_sequence() const;

  ParamLayout layout_;
  TrainOptions opts_;
  TokenStream train_, val_;
  ThreadPool* pool_;
  Transformer model_;
  std::vector<float> params_, grads_, bias_;
  AdamW adam_;
  std::unique_ptr<GradientBuckets> buckets_;  // data-parallel only
  int64_t step_ = 0;
};

}  // namespace frugal::train
