// Training checkpoints: parameters, AdamW moments and step count, the
// routers' selection bias, the steps done (which is the data position: see
// trainer.h) and three hashes, one of the model configuration, one of the
// options that shape the run (seed, batch, schedule, ...) and one of the
// training token ids (the data: the step counter is a position in it only
// for the same tokens), so a resumed run continues exactly where the
// checkpoint left it or refuses clearly.
//
// Layout (little-endian): "FRUGALCK", u32 version (2), u64 model hash, u64 run
// hash, u64 data hash (FNV-1a of the training token ids as int32), i64 steps done, i64 optimizer t, u64 n_params, params, m, v (f32
// each), u64 n_bias, bias, then u64 FNV-1a of every byte before it. Written
// through base/output_file.h (a temporary file, fsync'd and renamed over
// PATH's target), so a kill at any moment leaves the previous checkpoint or
// the new one. Two runs on one checkpoint are kept apart by the caller's lock.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace frugal::train {

uint64_t model_config_hash(const model::ModelConfig& cfg);
uint64_t run_options_hash(const TrainOptions& opts);
uint64_t training_data_hash(const std::vector<int32_t>& token_ids);

void save_checkpoint(const std::string& path, Trainer& trainer);
// frugal::Error for a missing, truncated or corrupt file, or one written for
// another model configuration, other run options or other training data.
void load_checkpoint(const std::string& path, Trainer& trainer);

}  // namespace frugal::train
