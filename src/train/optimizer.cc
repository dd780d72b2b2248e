#include "train/optimizer.h"

#include <cmath>

namespace frugal::train {

float learning_rate(const ScheduleOptions& s, int64_t step) {
  if (step < s.warmup_steps) return s.lr * static_cast<float>(step + 1) / static_cast<float>(s.warmup_steps);
  const int64_t decay_steps = s.total_steps - s.warmup_steps;
  if (decay_steps <= 0) return s.lr;
  const double progress = std::min(1.0, static_cast<double>(step - s.warmup_steps) / static_cast<double>(decay_steps));
  const double floor = s.lr * s.min_lr_ratio;
  return static_cast<float>(floor + 0.5 * (s.lr - floor) * (1.0 + std::cos(M_PI * progress)));
}

double clip_global_norm(float* grads, size_t n, float max_norm) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) ss += static_cast<double>(grads[i]) * grads[i];
  const double norm = std::sqrt(ss);
  if (max_norm > 0.0f && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    for (size_t i = 0; i < n; ++i) grads[i] *= scale;
  }
  return norm;
}

AdamW::AdamW(const ParamLayout& layout, AdamWOptions opts)
    : opts_(opts), m_(layout.n_params(), 0.0f), v_(layout.n_params(), 0.0f) {
  for (const ParamTensor& t : layout.tensors()) {
    // Matrices decay; norm weights (vectors) do not.
    decay_.push_back(t.shape.size() >= 2 ? 1 : 0);
    tensor_end_.push_back(t.offset + t.size);
  }
}

void AdamW::step(float* params, const float* grads, float lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(static_cast<double>(opts_.beta1), static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(opts_.beta2), static_cast<double>(t_));
  const float b1 = opts_.beta1, b2 = opts_.beta2;
  size_t begin = 0;
  for (size_t ti = 0; ti < tensor_end_.size(); ++ti) {
    const size_t end = tensor_end_[ti];
    const float decay = decay_[ti] ? lr * opts_.weight_decay : 0.0f;
    for (size_t i = begin; i < end; ++i) {
      const float g = grads[i];
      m_[i] = b1 * m_[i] + (1.0f - b1) * g;
      v_[i] = b2 * v_[i] + (1.0f - b2) * g * g;
      const float m_hat = static_cast<float>(m_[i] / bc1);
      const float v_hat = static_cast<float>(v_[i] / bc2);
      params[i] -= lr * m_hat / (std::sqrt(v_hat) + opts_.eps) + decay * params[i];
    }
    begin = end;
  }
}

}  // namespace frugal::train
