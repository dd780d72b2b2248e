// Fine-tuning checkpoints: a folder (--checkpoint DIR, --resume DIR) that
// holds
//   DIR/finetune.ckpt  the adapter's factors, AdamW's moments, the steps done
//                      and three hashes: the base model's configuration, the
//                      options that shape the run (rank, alpha, targets,
//                      epochs, batch, lr, betas, eps, weight decay, seed) and the
//                      training examples (their tokens and targets), so a
//                      resumed run continues exactly where the checkpoint
//                      left it or refuses clearly;
//   DIR/adapter.gguf   the adapter at that step, in llama.cpp's format, to try
//                      while the run goes on.
// Both are written atomically (base/output_file.h): a kill at any moment
// leaves the previous checkpoint or the new one.
//
// finetune.ckpt layout (little-endian): "FRUGALFT", u32 version (1), u64
// model hash, u64 run hash, u64 data hash, i64 steps done, u64 n, n f32
// factors, n f32 first moments, n f32 second moments, then u64 FNV-1a of
// every byte before it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "finetune/trainer.h"

namespace frugal::finetune {

struct CheckpointKey {
  uint64_t model = 0, run = 0, data = 0;
};
CheckpointKey checkpoint_key(const model::ModelConfig& base, const LoraShape& shape, const FinetuneOptions& opts,
                             const std::vector<SftExample>& train);

// DIR/finetune.ckpt.
std::string checkpoint_file(const std::string& dir);

// Writes DIR/finetune.ckpt and DIR/adapter.gguf (DIR is created when missing).
void save_checkpoint(const std::string& dir, const CheckpointKey& key, const LoraModel& m, const std::string& arch,
                     const FinetuneState& state);
// Reads DIR/finetune.ckpt into m's factors and state. frugal::Error for a
// missing, truncated or corrupt file, or one written for another base model,
// other options or other training data.
void load_checkpoint(const std::string& dir, const CheckpointKey& key, LoraModel& m, FinetuneState& state);

}  // namespace frugal::finetune
