// The fine-tuning loop: AdamW over the adapter's factors, one example a
// step, examples shuffled each epoch; validation loss at step 0, every
// eval_every steps and at the end.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "finetune/lora_model.h"

namespace frugal::finetune {

struct FinetuneOptions {
  int64_t epochs = 1;
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;
  int64_t eval_every = 10;  // steps between validation losses
  uint64_t seed = 0;        // of the shuffle
};

struct FinetuneStep {
  int64_t step = 0, total = 0;
  double train_loss = 0;  // of this step's example (NaN at step 0)
  double val_loss = 0;    // NaN when not evaluated at this step
};

// Mean loss over examples.
double mean_loss(LoraModel& m, const std::vector<SftExample>& examples);

// Trains m's factors in place; on_step is called at step 0 and after every step.
void finetune(LoraModel& m, const std::vector<SftExample>& train, const std::vector<SftExample>& val,
              const FinetuneOptions& opts, const std::function<void(const FinetuneStep&)>& on_step);

}  // namespace frugal::finetune
