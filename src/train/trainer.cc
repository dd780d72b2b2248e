#include "train/trainer.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "train/linear.h"

namespace frugal::train {

namespace {
size_t sz(int64_t n) { return static_cast<size_t>(n); }

int64_t n_ranks(const TrainOptions& o) { return o.data_parallel ? o.data_parallel->n_ranks() : 1; }

// Sums the step's losses, router entropies and expert counts over the ranks.
void sum_over_ranks(GradientSum* dp, std::vector<double*> scalars, std::vector<double>& entropy,
                    std::vector<std::vector<int64_t>>& counts) {
  std::vector<double> v;
  for (double* x : scalars) v.push_back(*x);
  v.insert(v.end(), entropy.begin(), entropy.end());
  for (const auto& layer : counts) v.insert(v.end(), layer.begin(), layer.end());
  dp->sum(v.data(), v.size());
  size_t i = 0;
  for (double* x : scalars) *x = v[i++];
  for (double& e : entropy) e = v[i++];
  for (auto& layer : counts)
    for (int64_t& c : layer) c = static_cast<int64_t>(std::llround(v[i++]));
}

std::vector<std::vector<double>> shares(const std::vector<std::vector<int64_t>>& counts) {
  std::vector<std::vector<double>> out;
  for (const auto& layer : counts) {
    int64_t total = 0;
    for (int64_t c : layer) total += c;
    std::vector<double> s;
    for (int64_t c : layer) s.push_back(total > 0 ? static_cast<double>(c) / static_cast<double>(total) : 0.0);
    out.push_back(std::move(s));
  }
  return out;
}

// A window of T + 1 ids: the sequence's T tokens and, one later, its targets.
void split_window(const std::vector<int32_t>& window, int32_t* tokens, int32_t* targets) {
  std::copy(window.begin(), window.end() - 1, tokens);
  std::copy(window.begin() + 1, window.end(), targets);
}

void add_counts(std::vector<std::vector<int64_t>>& sum, const std::vector<std::vector<int64_t>>& add) {
  if (sum.empty()) {
    sum = add;
    return;
  }
  for (size_t l = 0; l < sum.size(); ++l)
    for (size_t e = 0; e < sum[l].size(); ++e) sum[l][e] += add[l][e];
}
}  // namespace

Trainer::Trainer(const model::ModelConfig& cfg, const TrainOptions& opts, TokenStream train_tokens,
                 TokenStream val_tokens, ThreadPool* pool)
    : layout_(cfg),
      opts_(opts),
      train_(std::move(train_tokens)),
      val_(std::move(val_tokens)),
      pool_(pool),
      model_(layout_, opts.batch / n_ranks(opts), opts.seq_len, pool),
      params_(layout_.n_params()),
      grads_(layout_.n_params()),
      bias_(sz(cfg.n_layer * cfg.n_expert), 0.0f),
      adam_(layout_, opts.adam) {
  if (opts.steps <= 0) fail("train: --steps must be positive");
  if (opts.accum <= 0) fail("train: --accum must be positive");
  if (opts.batch % n_ranks(opts) != 0)
    fail("train: --batch ", opts.batch, " does not split evenly over ", n_ranks(opts), " ranks");
  if (static_cast<int64_t>(train_.size()) <= opts.seq_len + 1)
    fail("train: the training data has ", train_.size(), " tokens; a sequence needs ", opts.seq_len + 1);
  if (!val_.empty() && static_cast<int64_t>(val_.size()) <= opts.seq_len + 1)
    fail("train: the validation data has ", val_.size(), " tokens; a sequence needs ", opts.seq_len + 1);
  opts_.schedule.total_steps = opts.steps;
  if (opts.bf16_products) set_bf16_products(pool ? pool : &ThreadPool::global());
  if (opts.data_parallel)
    buckets_ = std::make_unique<GradientBuckets>(layout_, *opts.data_parallel, opts.dp_bucket_bytes);
  init_params(layout_, opts.seed, params_.data());
}

Trainer::~Trainer() {
  if (opts_.bf16_products) set_bf16_products(nullptr);
}

int64_t Trainer::local_batch() const { return opts_.batch / n_ranks(opts_); }
int64_t Trainer::first_sequence() const {
  return opts_.data_parallel ? opts_.data_parallel->rank() * local_batch() : 0;
}

void Trainer::sample_batch(uint64_t stream, std::vector<int32_t>& tokens, std::vector<int32_t>& targets) const {
  Rng rng(opts_.seed * 0x9E3779B97F4A7C15ull ^ stream);
  const int64_t T = opts_.seq_len, B = local_batch(), first = first_sequence();
  const uint64_t n_starts = train_.size() - sz(T);  // a window needs T + 1 tokens
  tokens.resize(sz(B * T));
  targets.resize(sz(B * T));
  std::vector<int32_t> window(sz(T + 1));
  for (int64_t g = 0; g < opts_.batch; ++g) {  // every window is drawn, this rank's read
    const size_t start = sz(static_cast<int64_t>(rng.next_u64() % n_starts));
    const int64_t b = g - first;
    if (b < 0 || b >= B) continue;
    train_.read(start, window.size(), window.data());
    split_window(window, tokens.data() + b * T, targets.data() + b * T);
  }
}

StepStats Trainer::step() {
  const model::ModelConfig& c = layout_.config();
  StepStats st;
  std::fill(grads_.begin(), grads_.end(), 0.0f);
  std::vector<int32_t> tokens, targets;
  std::vector<std::vector<int64_t>> counts;
  std::vector<double> entropy(sz(c.n_layer), 0.0);
  // Each rank's mean over its share counts 1/N of the batch's mean.
  const float scale = 1.0f / static_cast<float>(opts_.accum * n_ranks(opts_));
  for (int64_t m = 0; m < opts_.accum; ++m) {
    sample_batch(static_cast<uint64_t>(step_) * 1000003ull + static_cast<uint64_t>(m), tokens, targets);
    const ForwardResult r = model_.forward(params_.data(), opts_.bias_balance ? bias_.data() : nullptr,
                                           tokens.data(), targets.data(), opts_.router);
    if (buckets_ && m + 1 == opts_.accum) {
      buckets_->begin(grads_.data());
      model_.backward(params_.data(), grads_.data(), scale, [&](int64_t layer) { buckets_->layer_done(layer); });
    } else {
      model_.backward(params_.data(), grads_.data(), scale);
    }
    st.loss += r.ce_loss * scale;
    st.aux_loss += r.aux_loss * scale;
    st.z_loss += r.z_loss * scale;
    add_counts(counts, r.expert_tokens);
    for (size_t l = 0; l < entropy.size(); ++l) entropy[l] += r.router_entropy[l] * scale;
  }
  if (GradientSum* dp = opts_.data_parallel) {
    buckets_->finish();
    sum_over_ranks(dp, {&st.loss, &st.aux_loss, &st.z_loss}, entropy, counts);
  }
  if (!std::isfinite(st.loss)) fail("train: the loss is not finite at step ", step_ + 1, " (learning rate too high?)");
  st.grad_norm = clip_global_norm(grads_.data(), grads_.size(), opts_.clip);
  st.lr = learning_rate(opts_.schedule, step_);
  adam_.step(params_.data(), grads_.data(), st.lr);
  if (opts_.bias_balance) {
    // DeepSeek-V3: raise the bias of under-loaded experts, lower the over-loaded.
    for (int64_t l = 0; l < c.n_layer; ++l) {
      double mean = 0.0;
      for (int64_t e = 0; e < c.n_expert; ++e) mean += static_cast<double>(counts[sz(l)][sz(e)]);
      mean /= static_cast<double>(c.n_expert);
      for (int64_t e = 0; e < c.n_expert; ++e) {
        const double load = static_cast<double>(counts[sz(l)][sz(e)]);
        bias_[sz(l * c.n_expert + e)] += load < mean ? opts_.bias_rate : load > mean ? -opts_.bias_rate : 0.0f;
      }
    }
  }
  ++step_;
  st.step = step_;
  st.tokens = opts_.accum * opts_.batch * opts_.seq_len;
  st.expert_load = shares(counts);
  st.router_entropy = entropy;
  return st;
}

EvalStats Trainer::evaluate() {
  const model::ModelConfig& c = layout_.config();
  EvalStats ev;
  if (val_.empty()) return ev;
  const int64_t T = opts_.seq_len, B = opts_.batch, local = local_batch(), first = first_sequence();
  // Fixed windows: consecutive non-overlapping sequences from the start of
  // the validation stream, the same at every evaluation.
  const int64_t n_windows = std::min<int64_t>(static_cast<int64_t>(val_.size() - 1) / T, B * opts_.eval_batches);
  const int64_t n_batches = std::max<int64_t>(1, n_windows / B);
  const double share = 1.0 / static_cast<double>(n_ranks(opts_));
  std::vector<int32_t> tokens(sz(local * T)), targets(sz(local * T)), window(sz(T + 1));
  std::vector<std::vector<int64_t>> counts;
  std::vector<double> entropy(sz(c.n_layer), 0.0);
  double loss_sum = 0.0;
  for (int64_t bi = 0; bi < n_batches; ++bi) {
    for (int64_t b = 0; b < local; ++b) {
      const size_t start = sz(((bi * B + first + b) % std::max<int64_t>(1, n_windows)) * T);
      val_.read(start, window.size(), window.data());
      split_window(window, tokens.data() + b * T, targets.data() + b * T);
    }
    const ForwardResult r = model_.forward(params_.data(), opts_.bias_balance ? bias_.data() : nullptr,
                                           tokens.data(), targets.data(), opts_.router);
    loss_sum += r.ce_loss * share;
    add_counts(counts, r.expert_tokens);
    for (size_t l = 0; l < entropy.size(); ++l)
      entropy[l] += r.router_entropy[l] * share / static_cast<double>(n_batches);
  }
  if (opts_.data_parallel) sum_over_ranks(opts_.data_parallel, {&loss_sum}, entropy, counts);
  ev.loss = loss_sum / static_cast<double>(n_batches);
  ev.ppl = std::exp(ev.loss);
  ev.tokens = n_batches * B * T;
  ev.expert_load = shares(counts);
  ev.router_entropy = entropy;
  return ev;
}

}  // namespace frugal::train
