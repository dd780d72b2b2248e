// AdamW over the adapter's factors (see trainer.h).
#include "finetune/trainer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace frugal::finetune {

double mean_loss(LoraModel& m, const std::vector<SftExample>& examples) {
  double sum = 0;
  for (const SftExample& ex : examples) sum += m.loss(ex, false);
  return sum / static_cast<double>(std::max<size_t>(1, examples.size()));
}

void finetune(LoraModel& m, const std::vector<SftExample>& train, const std::vector<SftExample>& val,
              const FinetuneOptions& o, const std::function<void(const FinetuneStep&)>& on_step) {
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  std::vector<float>& p = m.params();
  std::vector<float>& g = m.grads();
  std::vector<float> mom(p.size(), 0.0f), var(p.size(), 0.0f);
  const int64_t total = o.epochs * static_cast<int64_t>(train.size());
  on_step({.step = 0, .total = total, .train_loss = kNone, .val_loss = mean_loss(m, val)});
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(o.seed);
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) {
      ++step;
      std::fill(g.begin(), g.end(), 0.0f);
      const double loss = m.loss(train[i], true);
      const double c1 = 1.0 - std::pow(double(o.beta1), double(step));
      const double c2 = 1.0 - std::pow(double(o.beta2), double(step));
      for (size_t k = 0; k < p.size(); ++k) {
        mom[k] = o.beta1 * mom[k] + (1.0f - o.beta1) * g[k];
        var[k] = o.beta2 * var[k] + (1.0f - o.beta2) * g[k] * g[k];
        const double mh = mom[k] / c1, vh = var[k] / c2;
        p[k] -= static_cast<float>(o.lr * (mh / (std::sqrt(vh) + o.eps) + o.weight_decay * p[k]));
      }
      const bool eval = step == total || (o.eval_every > 0 && step % o.eval_every == 0);
      on_step({.step = step, .total = total, .train_loss = loss, .val_loss = eval ? mean_loss(m, val) : kNone});
    }
  }
}

}  // namespace frugal::finetune
