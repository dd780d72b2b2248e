#include "train/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fnv_hash.h"
#include "base/output_file.h"
#include "gguf/value_format.h"

namespace frugal::train {

namespace {

constexpr char kMagic[8] = {'F', 'R', 'U', 'G', 'A', 'L', 'C', 'K'};
constexpr uint32_t kVersion = 2;  // 2: the data hash

// Appends bytes to a buffer and to the running checksum.
struct Out {
  std::vector<uint8_t> bytes;
  template <class T>
  void put(const T& v) {
    put_raw(&v, sizeof(v));
  }
  void put_raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
};

struct In {
  const std::vector<uint8_t>& bytes;
  const std::string& path;
  size_t pos = 0;
  void get_raw(void* p, size_t n) {
    if (bytes.size() - pos < n) fail("checkpoint ", path, " is truncated");
    std::memcpy(p, bytes.data() + pos, n);
    pos += n;
  }
  template <class T>
  T get() {
    T v;
    get_raw(&v, sizeof(v));
    return v;
  }
};

}  // namespace

uint64_t model_config_hash(const model::ModelConfig& cfg) {
  gguf::Metadata md;
  model::config_to_metadata(cfg, md);
  Fnv f;
  for (const auto& [key, value] : md.entries()) {
    if (key == "general.name") continue;
    f.add(key.data(), key.size());
    const std::string text = gguf::format_value(value);
    f.add(text.data(), text.size());
  }
  return f.h;
}

uint64_t run_options_hash(const TrainOptions& o) {
  Fnv f;
  f.put(o.steps);
  f.put(o.batch);
  f.put(o.seq_len);
  f.put(o.accum);
  f.put(o.clip);
  f.put(o.schedule.lr);
  f.put(o.schedule.warmup_steps);
  f.put(o.schedule.min_lr_ratio);
  f.put(o.adam.beta1);
  f.put(o.adam.beta2);
  f.put(o.adam.eps);
  f.put(o.adam.weight_decay);
  f.put(o.router.aux_coef);
  f.put(o.router.z_coef);
  f.put(o.bias_balance);
  f.put(o.bias_rate);
  f.put(o.seed);
  if (o.bf16_products) f.put(o.bf16_products);  // only then: f32 checkpoints of earlier versions still match
  return f.h;
}

uint64_t training_data_hash(const std::vector<int32_t>& ids) {
  Fnv f;
  f.add(ids.data(), ids.size() * sizeof(int32_t));
  return f.h;
}

void save_checkpoint(const std::string& path, Trainer& t) {
  Out o;
  o.put_raw(kMagic, sizeof(kMagic));
  o.put(kVersion);
  o.put(model_config_hash(t.layout().config()));
  o.put(run_options_hash(t.options()));
  o.put(t.train_stream().hash());
  o.put(t.steps_done());
  o.put(t.optimizer().t());
  const uint64_t n = t.params().size();
  o.put(n);
  o.put_raw(t.params().data(), n * sizeof(float));
  o.put_raw(t.optimizer().m().data(), n * sizeof(float));
  o.put_raw(t.optimizer().v().data(), n * sizeof(float));
  const uint64_t nb = t.selection_bias().size();
  o.put(nb);
  o.put_raw(t.selection_bias().data(), nb * sizeof(float));
  Fnv f;
  f.add(o.bytes.data(), o.bytes.size());
  o.put(f.h);

  try {
    write_output_file(path, std::string_view(reinterpret_cast<const char*>(o.bytes.data()), o.bytes.size()));
  } catch (const Error& e) {
    fail("checkpoint: ", e.what());
  }
}

void load_checkpoint(const std::string& path, Trainer& t) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) fail("checkpoint: cannot open ", path, ": ", std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), fp)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  std::fclose(fp);
  if (bytes.size() < sizeof(kMagic) + 8 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    fail("checkpoint ", path, " is not a frugal training checkpoint");
  Fnv f;
  f.add(bytes.data(), bytes.size() - 8);
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != f.h) fail("checkpoint ", path, " is corrupt (checksum mismatch)");

  In in{bytes, path, sizeof(kMagic)};
  const auto version = in.get<uint32_t>();
  if (version != kVersion)
    fail("checkpoint ", path, " has version ", version, ", expected ", kVersion,
         " (written by another frugal; start the run again without --resume)");
  if (in.get<uint64_t>() != model_config_hash(t.layout().config()))
    fail("checkpoint ", path, " was written for a different model configuration");
  if (in.get<uint64_t>() != run_options_hash(t.options()))
    fail("checkpoint ", path,
         " was written with different training options (steps, batch, seq, accum, lr, warmup, clip, coefficients, "
         "seed)");
  if (in.get<uint64_t>() != t.train_stream().hash())
    fail("checkpoint ", path,
         " was written for different training data (other --data files, contents, tokenizer or validation split)");
  const auto steps = in.get<int64_t>();
  const auto adam_t = in.get<int64_t>();
  const auto n = in.get<uint64_t>();
  if (n != t.params().size()) fail("checkpoint ", path, " holds ", n, " parameters, the model has ", t.params().size());
  in.get_raw(t.params().data(), n * sizeof(float));
  in.get_raw(t.optimizer().m().data(), n * sizeof(float));
  in.get_raw(t.optimizer().v().data(), n * sizeof(float));
  const auto nb = in.get<uint64_t>();
  if (nb != t.selection_bias().size()) fail("checkpoint ", path, " has a selection bias of the wrong size");
  in.get_raw(t.selection_bias().data(), nb * sizeof(float));
  t.set_steps_done(steps);
  t.optimizer().set_t(adam_t);
}

}  // namespace frugal::train
