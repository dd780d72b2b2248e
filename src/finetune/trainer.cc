// AdamW over the adapter's factors (see trainer.h).
#include "finetune/trainer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "base/error.h"

namespace frugal::finetune {

double mean_loss(LoraModel& m, const std::vector<SftExample>& examples, train::GradientSum* dp) {
  double sum = 0;
  for (const SftExample& ex : examples)
    if (is_read(ex)) sum += m.loss(ex, false);
  if (dp) dp->sum(&sum, 1);
  return sum / static_cast<double>(std::max<size_t>(1, examples.size()));
}

namespace {
int64_t batches_per_epoch(const FinetuneOptions& o, size_t n_train) {
  const int64_t b = std::max<int64_t>(1, o.batch);
  return (static_cast<int64_t>(n_train) + b - 1) / b;
}
}  // namespace

int64_t total_steps(const FinetuneOptions& o, size_t n_train) { return o.epochs * batches_per_epoch(o, n_train); }

double batch_loss(LoraModel& m, const std::vector<const SftExample*>& batch, bool with_grad,
                  train::GradientSum* dp) {
  // The batch's target tokens: this process's examples', summed over the ranks.
  double tokens = 0;
  for (const SftExample* ex : batch) {
    if (!is_read(*ex)) continue;
    if (target_count(*ex) == 0) fail("finetune: line ", ex->line, ": no target tokens");
    tokens += static_cast<double>(target_count(*ex));
  }
  if (dp) dp->sum(&tokens, 1);
  double sum = 0;
  for (const SftExample* ex : batch) {
    if (!is_read(*ex)) continue;
    const double share = static_cast<double>(target_count(*ex)) / tokens;
    sum += share * m.loss(*ex, with_grad, static_cast<float>(share));
  }
  return sum;
}

void finetune(LoraModel& m, const std::vector<SftExample>& train, const std::vector<SftExample>& val,
              const FinetuneOptions& o, FinetuneState& st, const std::function<void(const FinetuneStep&)>& on_step) {
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  if (o.batch <= 0) fail("finetune: the batch size must be positive");
  std::vector<float>& p = m.params();
  std::vector<float>& g = m.grads();
  if (st.m.empty()) st.m.assign(p.size(), 0.0f);
  if (st.v.empty()) st.v.assign(p.size(), 0.0f);
  if (st.m.size() != p.size() || st.v.size() != p.size()) fail("finetune: the optimizer state does not fit the adapter");
  const int64_t total = total_steps(o, train.size());
  if (st.step < 0 || st.step > total) fail("finetune: step ", st.step, " is outside the run's ", total, " steps");
  train::GradientSum* dp = o.data_parallel;
  if (st.step == 0) on_step({.step = 0, .total = total, .train_loss = kNone, .val_loss = mean_loss(m, val, dp)});
  const int64_t n = static_cast<int64_t>(train.size()), per_epoch = batches_per_epoch(o, train.size());
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(o.seed);
  // Epochs before the resumed one: their permutations drawn and dropped, so
  // the generator is where the uninterrupted run had it.
  const int64_t first_epoch = per_epoch > 0 ? st.step / per_epoch : 0;
  for (int64_t e = 0; e < first_epoch; ++e) std::shuffle(order.begin(), order.end(), rng);
  std::vector<const SftExample*> batch;
  for (int64_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t j = st.step - epoch * per_epoch; j < per_epoch; ++j) {
      if (o.stop_at > 0 && st.step >= o.stop_at) return;
      batch.clear();
      for (int64_t i = j * o.batch; i < std::min(n, (j + 1) * o.batch); ++i)
        batch.push_back(&train[order[static_cast<size_t>(i)]]);
      const int64_t step = ++st.step;
      std::fill(g.begin(), g.end(), 0.0f);
      // loss and tokens: this process's examples', summed over the ranks.
      double sums[2] = {batch_loss(m, batch, true, dp), 0.0};
      for (const SftExample* ex : batch) sums[1] += static_cast<double>(ex->tokens.size());
      if (dp) {
        dp->sum(g.data(), g.size());
        dp->sum(sums, 2);
      }
      const double loss = sums[0];
      const auto tokens = static_cast<int64_t>(sums[1]);
      const double c1 = 1.0 - std::pow(double(o.beta1), double(step));
      const double c2 = 1.0 - std::pow(double(o.beta2), double(step));
      for (size_t k = 0; k < p.size(); ++k) {
        st.m[k] = o.beta1 * st.m[k] + (1.0f - o.beta1) * g[k];
        st.v[k] = o.beta2 * st.v[k] + (1.0f - o.beta2) * g[k] * g[k];
        const double mh = st.m[k] / c1, vh = st.v[k] / c2;
        p[k] -= static_cast<float>(o.lr * (mh / (std::sqrt(vh) + o.eps) + o.weight_decay * p[k]));
      }
      const bool eval = step == total || (o.eval_every > 0 && step % o.eval_every == 0);
      on_step({.step = step,
               .total = total,
               .train_loss = loss,
               .val_loss = eval ? mean_loss(m, val, dp) : kNone,
               .tokens = tokens});
    }
  }
}

}  // namespace frugal::finetune
