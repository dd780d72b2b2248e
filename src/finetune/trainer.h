// The fine-tuning loop: AdamW over the adapter's factors, opts.batch
// examples a step (the last batch of an epoch holds what is left), examples
// shuffled each epoch; validation loss at step 0, every eval_every steps and
// at the end. A batch's loss is the mean over all its target tokens, as
// PyTorch's cross-entropy over a padded batch gives it: each example weighs
// its share of the batch's tokens.
//
// Resumable: the run's whole state is the factors, the AdamW moments and the
// step count (FinetuneState). The shuffle is drawn from one generator seeded
// by opts.seed, one permutation an epoch, so a resumed run replays the
// permutations of the epochs up to its step and goes on with exactly the
// examples, losses and updates the uninterrupted run has.
//
// Data-parallel (FinetuneOptions::data_parallel): every rank draws the same
// batches and computes the examples of each that it read (example j of the
// file on rank j mod N: sft_data.h's share, is_read), each weighed by its
// share of the whole batch's target tokens (summed over the ranks); the
// gradients and losses are summed over the ranks before the AdamW step, so
// every rank holds the same factors, which are one process's up to the
// order of the additions. Validation: each rank its own examples, summed.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "finetune/lora_model.h"
#include "train/data_parallel.h"

namespace frugal::finetune {

struct FinetuneOptions {
  int64_t epochs = 1;
  int64_t batch = 1;  // examples a step
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;
  int64_t eval_every = 10;  // steps between validation losses
  uint64_t seed = 0;        // of the shuffle
  int64_t stop_at = 0;      // > 0: return after this step (the run's length is still epochs; resume goes on)
  train::GradientSum* data_parallel = nullptr;  // null: one process
};

// What a checkpoint holds besides the factors: steps done and AdamW's
// moments (empty before the first step).
struct FinetuneState {
  int64_t step = 0;
  std::vector<float> m, v;
};

struct FinetuneStep {
  int64_t step = 0, total = 0;
  double train_loss = 0;  // of this step's batch (NaN at step 0)
  double val_loss = 0;    // NaN when not evaluated at this step
  int64_t tokens = 0;     // in this step's examples (0 at step 0)
};

// Mean loss over examples (those this process read; with dp, summed over the ranks).
double mean_loss(LoraModel& m, const std::vector<SftExample>& examples, train::GradientSum* dp = nullptr);

// Steps of the whole run: epochs x batches an epoch (n_train / batch,
// rounded up).
int64_t total_steps(const FinetuneOptions& opts, size_t n_train);

// The loss of a batch: the mean over all its examples' target tokens; with
// with_grad its gradient is added to m.grads(). Only the examples this
// process read count (all, in one process); with dp, the batch's target
// tokens are summed over the ranks and the loss and gradient are this
// rank's part (the caller sums them over the ranks).
double batch_loss(LoraModel& m, const std::vector<const SftExample*>& batch, bool with_grad,
                  train::GradientSum* dp = nullptr);

// Trains m's factors in place from state (a fresh state: step 0, the
// validation loss first), to the end of the run or opts.stop_at; on_step is
// called at step 0 (fresh runs only) and after every step, with state
// updated to that step (a checkpoint written from the callback resumes
// there).
void finetune(LoraModel& m, const std::vector<SftExample>& train, const std::vector<SftExample>& val,
              const FinetuneOptions& opts, FinetuneState& state,
              const std::function<void(const FinetuneStep&)>& on_step);
// A fresh run.
inline void finetune(LoraModel& m, const std::vector<SftExample>& train, const std::vector<SftExample>& val,
                     const FinetuneOptions& opts, const std::function<void(const FinetuneStep&)>& on_step) {
  FinetuneState state;
  finetune(m, train, val, opts, state, on_step);
}

}  // namespace frugal::finetune
