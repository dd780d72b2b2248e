// AdamW with decoupled weight decay, the learning-rate schedule (linear
// warm-up, then cosine decay to a floor) and clipping by global norm.
#pragma once
#include <cstdint>
#include <vector>

#include "train/train_model.h"

namespace frugal::train {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // applied to weight matrices only (not norms)
};

struct ScheduleOptions {
  float lr = 3e-3f;            // peak learning rate
  int64_t warmup_steps = 0;    // linear from lr/warmup to lr over these steps
  int64_t total_steps = 1;     // cosine decay from the end of warm-up to here
  float min_lr_ratio = 0.1f;   // floor of the cosine, as a share of lr
};

// Learning rate of optimizer step `step` (0-based).
float learning_rate(const ScheduleOptions& s, int64_t step);

// Scales grads so that their global L2 norm is at most max_norm (<= 0: no
// clipping); returns the norm before clipping.
double clip_global_norm(float* grads, size_t n, float max_norm);

class AdamW {
 public:
  AdamW(const ParamLayout& layout, AdamWOptions opts);
  // One update with learning rate lr; t_ counts updates (bias correction).
  void step(float* params, const float* grads, float lr);

  int64_t t() const { return t_; }
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  void set_t(int64_t t) { t_ = t; }

 private:
  AdamWOptions opts_;
  std::vector<uint8_t> decay_;  // per tensor of the layout: 1 if weight-decayed
  std::vector<size_t> tensor_end_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

}  // namespace frugal::train
