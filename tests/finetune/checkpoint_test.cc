// Fine-tuning checkpoints: a run stopped, checkpointed and resumed in a
// fresh model gives bit for bit the losses and factors of the uninterrupted
// run; a checkpoint for other options or data, or a damaged one, is refused.
#include "finetune/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "base/error.h"
#include "base/progress.h"
#include "finetune/tiny_base.h"

namespace frugal::finetune {
namespace {

// The base of these tests: tiny qwen3, Q8_0.
struct TinyBase : testing::TinyBase {
  TinyBase() : testing::TinyBase("finetune_checkpoint", "qwen3", 5) {}
};

std::vector<SftExample> examples() {
  std::vector<SftExample> set;
  for (int k = 0; k < 3; ++k) {
    SftExample ex;
    for (int i = 0; i < 7 + k; ++i) ex.tokens.push_back(40 + 11 * k + 3 * i);
    ex.target.assign(ex.tokens.size(), 1);
    ex.target[0] = 0;
    ex.line = k + 1;
    set.push_back(ex);
  }
  return set;
}

struct TempDir {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("frugal_finetune_ckpt_" + std::to_string(::getpid())))
                         .string();
  ~TempDir() { std::filesystem::remove_all(path); }
};

const LoraShape kShape{.rank = 4, .alpha = 8.0f, .seed = 3};
const FinetuneOptions kOpts{.epochs = 3, .lr = 1e-2f, .weight_decay = 0.01f, .eval_every = 4, .seed = 7};

// Stopped after stop_at (mid-epoch), checkpointed, resumed in a new model:
// the uninterrupted run's losses and factors bit for bit.
void check_resume(const FinetuneOptions& opts, int64_t stop_at, size_t want_steps) {
  TinyBase base;
  const auto set = examples();
  std::vector<double> want, got;
  LoraModel whole(*base.m, kShape);
  finetune(whole, set, set, opts, [&](const FinetuneStep& s) { want.push_back(s.train_loss); });
  ASSERT_EQ(want.size(), want_steps + 1);

  TempDir dir;
  const CheckpointKey key = checkpoint_key(base.m->config(), kShape, opts, set);
  {
    LoraModel first(*base.m, kShape);
    FinetuneOptions o = opts;
    o.stop_at = stop_at;
    FinetuneState st;
    finetune(first, set, set, o, st, [&](const FinetuneStep& s) { got.push_back(s.train_loss); });
    ASSERT_EQ(st.step, stop_at);
    save_checkpoint(dir.path, key, first, "qwen3", st);
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path + "/adapter.gguf"));
  LoraModel second(*base.m, {.rank = 4, .alpha = 8.0f, .seed = 99});  // other initial A: overwritten
  FinetuneState st;
  load_checkpoint(dir.path, key, second, st);
  EXPECT_EQ(st.step, stop_at);
  finetune(second, set, set, opts, st, [&](const FinetuneStep& s) { got.push_back(s.train_loss); });
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 1; i < want.size(); ++i) EXPECT_EQ(std::memcmp(&want[i], &got[i], sizeof(double)), 0) << "step " << i;
  ASSERT_EQ(whole.params().size(), second.params().size());
  EXPECT_EQ(std::memcmp(whole.params().data(), second.params().data(), whole.params().size() * sizeof(float)), 0);
}

TEST(FinetuneCheckpoint, ResumedRunMatchesTheUninterruptedOneBitForBit) { check_resume(kOpts, 5, 9); }

// Batches of two over three examples: two steps an epoch (the second holds
// one example); stopped after step 3, in the second epoch's second batch.
TEST(FinetuneCheckpoint, ResumedBatchedRunMatchesTheUninterruptedOneBitForBit) {
  FinetuneOptions o = kOpts;
  o.batch = 2;
  check_resume(o, 3, 6);
}

TEST(FinetuneCheckpoint, RefusesOtherOptionsDataAndDamage) {
  TinyBase base;
  const auto set = examples();
  TempDir dir;
  LoraModel lm(*base.m, kShape);
  FinetuneState st{.step = 2, .m = std::vector<float>(lm.params().size(), 0.5f),
                   .v = std::vector<float>(lm.params().size(), 0.25f)};
  const CheckpointKey key = checkpoint_key(base.m->config(), kShape, kOpts, set);
  save_checkpoint(dir.path, key, lm, "qwen3", st);
  auto refused = [&](const CheckpointKey& k, const std::string& want) {
    FinetuneState s;
    try {
      load_checkpoint(dir.path, k, lm, s);
      ADD_FAILURE() << "loaded; wanted: " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  FinetuneOptions other = kOpts;
  other.lr = 2e-2f;
  refused(checkpoint_key(base.m->config(), kShape, other, set), "with other options");
  LoraShape wider = kShape;
  wider.rank = 8;
  refused(checkpoint_key(base.m->config(), wider, kOpts, set), "with other options");
  FinetuneOptions batched = kOpts;
  batched.batch = 2;
  refused(checkpoint_key(base.m->config(), kShape, batched, set), "with other options");
  auto fewer = set;
  fewer.pop_back();
  refused(checkpoint_key(base.m->config(), kShape, kOpts, fewer), "for other training data");
  {
    std::fstream f(checkpoint_file(dir.path), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    f.put('\x7f');
  }
  refused(key, "is corrupt");
  std::filesystem::resize_file(checkpoint_file(dir.path), 4);
  refused(key, "is not a frugal fine-tuning checkpoint");
  std::filesystem::remove(checkpoint_file(dir.path));
  refused(key, "no checkpoint there");
}

}  // namespace
}  // namespace frugal::finetune
