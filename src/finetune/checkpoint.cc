// Fine-tuning checkpoints (see checkpoint.h).
#include "finetune/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <string_view>

#include "base/error.h"
#include "base/fnv_hash.h"
#include "base/output_file.h"
#include "base/read_file.h"
#include "train/checkpoint.h"

namespace frugal::finetune {

namespace {

constexpr char kMagic[8] = {'F', 'R', 'U', 'G', 'A', 'L', 'F', 'T'};
constexpr uint32_t kVersion = 1;

}  // namespace

CheckpointKey checkpoint_key(const model::ModelConfig& base, const LoraShape& s, const FinetuneOptions& o,
                             const std::vector<SftExample>& train) {
  Fnv run;
  for (auto v : {s.rank, o.epochs}) run.put(v);
  for (auto v : {s.alpha, o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}) run.put(v);
  for (bool v : {s.attn, s.ffn, s.shared, s.experts, s.router}) run.put(v);
  // Only when set: earlier checkpoints keep their key.
  if (s.shared_experts) run.put(s.shared_experts);
  if (o.batch != 1) run.put(o.batch);
  run.put(s.seed);
  run.put(o.seed);
  // The examples' text, which every rank knows, read by it or not.
  Fnv data;
  data.put(train.size());
  for (const SftExample& ex : train) data.put(ex.text_hash);
  return {.model = train::model_config_hash(base), .run = run.h, .data = data.h};
}

std::string checkpoint_file(const std::string& dir) { return (std::filesystem::path(dir) / "finetune.ckpt").string(); }

void save_checkpoint(const std::string& dir, const CheckpointKey& key, const LoraModel& m, const std::string& arch,
                     const FinetuneState& st) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("finetune: cannot create the checkpoint folder ", dir, ": ", ec.message());
  const std::vector<float>& p = m.params();
  if (st.m.size() != p.size() || st.v.size() != p.size()) fail("finetune: the optimizer state does not fit the adapter");
  std::string bytes(kMagic, sizeof(kMagic));
  auto put_raw = [&](const void* data, size_t n) { bytes.append(static_cast<const char*>(data), n); };
  auto put = [&](const auto& v) { put_raw(&v, sizeof(v)); };
  put(kVersion);
  put(key.model);
  put(key.run);
  put(key.data);
  put(st.step);
  put(static_cast<uint64_t>(p.size()));
  for (const std::vector<float>* v : {&p, &st.m, &st.v}) put_raw(v->data(), v->size() * sizeof(float));
  Fnv f;
  f.add(bytes.data(), bytes.size());
  put(f.h);
  try {
    // The adapter first: a kill between the two leaves a checkpoint that
    // resumes from an earlier step, never one newer than its adapter.
    const LoraShape& s = m.shape();
    model::write_lora_adapter((std::filesystem::path(dir) / "adapter.gguf").string(), arch, s.alpha, s.rank,
                              m.factors());
    write_output_file(checkpoint_file(dir), bytes);
  } catch (const Error& e) {
    fail("finetune: checkpoint: ", e.what());
  }
}

void load_checkpoint(const std::string& dir, const CheckpointKey& key, LoraModel& m, FinetuneState& st) {
  const std::string path = checkpoint_file(dir);
  if (!std::filesystem::exists(path)) fail("finetune: --resume ", dir, ": no checkpoint there (", path, " is missing)");
  const std::string bytes = read_whole_file(path);
  if (bytes.size() < sizeof(kMagic) + 8 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    fail("finetune: ", path, " is not a frugal fine-tuning checkpoint");
  Fnv f;
  f.add(bytes.data(), bytes.size() - 8);
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != f.h) fail("finetune: checkpoint ", path, " is corrupt (checksum mismatch)");
  size_t pos = sizeof(kMagic);
  auto get_raw = [&](void* out, size_t n) {
    if (bytes.size() - 8 - pos < n) fail("finetune: checkpoint ", path, " is truncated");
    std::memcpy(out, bytes.data() + pos, n);
    pos += n;
  };
  auto get = [&]<class T>(T) {
    T v;
    get_raw(&v, sizeof(v));
    return v;
  };
  const uint32_t version = get(uint32_t{});
  if (version != kVersion)
    fail("finetune: checkpoint ", path, " has version ", version, ", expected ", kVersion,
         " (written by another frugal; start again without --resume)");
  if (get(uint64_t{}) != key.model) fail("finetune: checkpoint ", path, " was written for another base model");
  if (get(uint64_t{}) != key.run)
    fail("finetune: checkpoint ", path,
          " was written with other options (rank, alpha, targets, --lora-experts, epochs, batch, lr, weight decay, seed)");
  if (get(uint64_t{}) != key.data) fail("finetune: checkpoint ", path, " was written for other training data");
  const int64_t step = get(int64_t{});
  const uint64_t n = get(uint64_t{});
  std::vector<float>& p = m.params();
  if (n != p.size()) fail("finetune: checkpoint ", path, " holds ", n, " adapter values, this adapter has ", p.size());
  st.m.resize(n);
  st.v.resize(n);
  for (std::vector<float>* v : {&p, &st.m, &st.v}) get_raw(v->data(), n * sizeof(float));
  st.step = step;
}

}  // namespace frugal::finetune
