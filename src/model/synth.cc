// Random-weight model files: counter-based values, streamed through the GGUF
// writer one tensor at a time, quantised per the chosen type or recipe.
#include "model/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "base/mix64.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/thread_pool.h"
#include "model/router_skew.h"
#include "gguf/writer.h"
#include "quant/quant.h"
#include "quant/recipe.h"
#include "gguf/pre_tokenizer_name.h"

namespace frugal::model {
namespace {


constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

uint64_t tensor_key(uint64_t seed, std::string_view name) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a of the name
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return mix64(h ^ mix64(seed * kGolden + 1));
}

// Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall),
// centred and scaled to unit variance. One hash per value keeps a 7B model's
// generation well under the time its quantisation takes.
inline float approx_normal(uint64_t key, uint64_t index) {
  const uint64_t r = mix64(key + index * kGolden);
  const float sum = float(r & 0xffff) + float((r >> 16) & 0xffff) + float((r >> 32) & 0xffff) + float(r >> 48);
  return ((sum + 2.0f) * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;  // var of each uniform: 1/12
}

}  // namespace

namespace {

// The calibration takes a while and a router's rows are made in parallel
// chunks: each (configuration, skew, seed, layer) is calibrated once.
std::vector<float> cached_skew_biases(const ModelConfig& cfg, double skew, uint64_t seed, int layer) {
  using Key = std::tuple<int64_t, int64_t, int64_t, double, uint64_t, int>;
  static std::mutex mu;
  static std::map<Key, std::vector<float>> cache;
  const Key key{cfg.n_embd, cfg.n_expert, cfg.n_expert_used, skew, seed, layer};
  std::lock_guard lk(mu);  // held while calibrating: the other chunks need the same answer
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, router_skew_biases(cfg, skew, seed, layer)).first;
  return it->second;
}

// Dimension 0 for router skew (router_skew.h): a constant in every token
// embedding, weight 1 in every norm of the stream's width, and each router
// row's share of the bias its expert gets.
void skew_rows(const ModelConfig& cfg, const TensorSpec& spec, uint64_t seed, double skew, const InitScale& s,
               int64_t row_begin, int64_t row_end, float* out) {
  const int64_t n = cfg.n_embd;
  std::vector<float> bias;
  if (spec.role == TensorRole::kRouter && spec.shape.size() == 2 && spec.shape[1] == cfg.n_expert) {
    bias = cached_skew_biases(cfg, skew, seed, spec.layer);
    const double x0 = skew_normed_value(cfg);
    for (float& b : bias) b = static_cast<float>(b / x0);
  } else if (spec.role != TensorRole::kEmbedding && spec.role != TensorRole::kNorm) {
    return;
  }
  for (int64_t r = row_begin; r < row_end; ++r) {
    float& first = out[(r - row_begin) * n];
    if (spec.role == TensorRole::kEmbedding) first = skew_embedding_value(cfg, s.std);
    else if (spec.role == TensorRole::kNorm) first = 1.0f;
    else first = bias[static_cast<size_t>(r)];
  }
}

}  // namespace

InitScale init_scale(const ModelConfig& cfg, const TensorSpec& spec) {
  // Gated DeltaNet's A = -exp(A_log) must be negative (decay below 1): about
  // -0.5 keeps a state's memory over several positions.
  if (spec.id == TensorId::kSsmA) return {-0.5f, 0.1f};
  switch (spec.role) {
    case TensorRole::kNorm: return {1.0f, 0.1f};
    case TensorRole::kBias: case TensorRole::kExpertBias: return {0.0f, 0.1f};
    // A tied table is also the LM head: at 1/sqrt(n_embd) its logits have
    // unit scale instead of echoing the input token with a margin of sqrt(n_embd).
    case TensorRole::kEmbedding: return {0.0f, cfg.tied_output ? 1.0f / std::sqrt(float(cfg.n_embd)) : 1.0f};
    default: break;
  }
  float std = 1.0f / std::sqrt(float(spec.fan_in()));
  if (gguf::tensor_info(spec.id).residual) std /= std::sqrt(2.0f * float(cfg.n_layer));
  return {0.0f, std};
}

namespace {

// A split kv_b (attn_k_b, attn_v_b) holds the values of the attn_kv_b that
// the same seed gives, so a file and its split twin compute the same function.
// k_b row h*rank + r is column r of kv_b's key rows of head h; v_b row
// h*v + i is kv_b row h*(nope + v) + nope + i.
bool split_kv_b_rows(const ModelConfig& cfg, const TensorSpec& spec, uint64_t seed, int64_t row_begin,
                     int64_t row_end, float* out) {
  const bool k_b = spec.id == TensorId::kAttnKB;
  if (!k_b && spec.id != TensorId::kAttnVB) return false;
  const int64_t rank = cfg.kv_lora_rank, nope = cfg.qk_nope_head_dim, v = cfg.v_head_dim;
  const TensorSpec joint{.name = gguf::tensor_name(TensorId::kAttnKvB, spec.layer),
                         .shape = {rank, cfg.n_head * (nope + v)},
                         .role = spec.role,
                         .layer = spec.layer,
                         .id = TensorId::kAttnKvB};
  if (!k_b) {
    for (int64_t r = row_begin; r < row_end; ++r) {
      const int64_t src = r / v * (nope + v) + nope + r % v;
      synth_rows(cfg, joint, seed, src, src + 1, out + (r - row_begin) * rank);
    }
    return true;
  }
  std::vector<float> key_rows(static_cast<size_t>(nope * rank));
  for (int64_t h = row_begin / rank; h * rank < row_end; ++h) {
    synth_rows(cfg, joint, seed, h * (nope + v), h * (nope + v) + nope, key_rows.data());
    for (int64_t r = std::max(row_begin, h * rank); r < std::min(row_end, (h + 1) * rank); ++r)
      for (int64_t j = 0; j < nope; ++j) out[(r - row_begin) * nope + j] = key_rows[j * rank + r % rank];
  }
  return true;
}

}  // namespace

void synth_rows(const ModelConfig& cfg, const TensorSpec& spec, uint64_t seed, int64_t row_begin, int64_t row_end,
                float* out, double router_skew) {
  const int64_t n = spec.fan_in();
  const int64_t rows = spec.n_elements() / std::max<int64_t>(n, 1);
  if (row_begin < 0 || row_end > rows || row_begin > row_end)
    fail("synth: rows [", row_begin, ", ", row_end, ") out of range for ", spec.name, " (", rows, " rows)");
  if (split_kv_b_rows(cfg, spec, seed, row_begin, row_end, out)) return;
  const InitScale s = init_scale(cfg, spec);
  const uint64_t key = tensor_key(seed, spec.name);
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* row = out + (r - row_begin) * n;
    const uint64_t base = uint64_t(r) * uint64_t(n);
    for (int64_t j = 0; j < n; ++j) row[j] = s.mean + s.std * approx_normal(key, base + uint64_t(j));
  }
  if (router_skew > 0 && cfg.n_expert > 1 && n == cfg.n_embd) skew_rows(cfg, spec, seed, router_skew, s, row_begin, row_end, out);
}

std::string byte_token_piece(uint8_t b) {
  // Printable Latin-1 bytes stand for themselves; the others (controls,
  // space, 127-160, 173) map in order to U+0100 and up.
  auto printable = [](int c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255); };
  uint32_t cp = b;
  if (!printable(b)) {
    uint32_t n = 0;
    for (int c = 0; c < b; ++c)
      if (!printable(c)) ++n;
    cp = 256 + n;
  }
  std::string s;
  append_utf8(s, cp);
  return s;
}

void add_byte_tokenizer(int64_t n_vocab, gguf::Metadata& md) {
  if (n_vocab < 258) fail("the byte-level vocabulary needs n_vocab >= 258 (256 bytes, <|bos|>, <|eos|>); got ", n_vocab);
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  tokens.reserve(size_t(n_vocab));
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(byte_token_piece(uint8_t(b)));
    types.push_back(1);  // NORMAL
  }
  tokens.push_back("<|bos|>");
  tokens.push_back("<|eos|>");
  types.push_back(3);  // CONTROL
  types.push_back(3);
  for (int64_t i = 258; i < n_vocab; ++i) {
    tokens.push_back("<|unused_" + std::to_string(i - 258) + "|>");
    types.push_back(5);  // UNUSED
  }
  md.set("tokenizer.ggml.model", gguf::Value::make_string("gpt2"));
  md.set("tokenizer.ggml.pre", gguf::Value::make_string(gguf::pre_tokenizer_name_for_file("default")));
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(tokens));
  md.set("tokenizer.ggml.token_type", gguf::Value::make_i32_array(types));
  md.set("tokenizer.ggml.merges", gguf::Value::make_string_array({}));
  md.set("tokenizer.ggml.bos_token_id", gguf::Value::make_u32(256));
  md.set("tokenizer.ggml.eos_token_id", gguf::Value::make_u32(257));
  md.set("tokenizer.ggml.add_bos_token", gguf::Value::make_bool(true));
}

void fit_tokenizer_vocab(gguf::Metadata& md, ModelConfig& cfg) {
  std::vector<std::string> tokens = md.get_string_array("tokenizer.ggml.tokens");
  const int64_t count = int64_t(tokens.size());
  if (count > cfg.n_vocab) {
    cfg.n_vocab = count;
    return;
  }
  if (count == cfg.n_vocab) return;
  const bool has_types = md.has("tokenizer.ggml.token_type");
  const bool has_scores = md.has("tokenizer.ggml.scores");
  std::vector<int32_t> types;
  std::vector<float> scores;
  if (has_types)
    for (int64_t t : md.get_int_array("tokenizer.ggml.token_type")) types.push_back(int32_t(t));
  if (has_scores)
    for (double s : md.get_float_array("tokenizer.ggml.scores")) scores.push_back(float(s));
  if ((has_types && int64_t(types.size()) != count) || (has_scores && int64_t(scores.size()) != count))
    fail("tokenizer: token_type/scores length differs from the ", count, " tokens");
  for (int64_t i = count; i < cfg.n_vocab; ++i) {
    tokens.push_back("<|unused_" + std::to_string(i - count) + "|>");
    if (has_types) types.push_back(5);  // UNUSED
    if (has_scores) scores.push_back(-1e9f);
  }
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(tokens));
  if (has_types) md.set("tokenizer.ggml.token_type", gguf::Value::make_i32_array(types));
  if (has_scores) md.set("tokenizer.ggml.scores", gguf::Value::make_f32_array(scores));
}

void synth_token_experts(const ModelConfig& cfg, const TensorSpec& spec, uint64_t seed, std::span<int32_t> out) {
  const int64_t k = spec.shape[0], n_tokens = spec.shape[1], ne = cfg.n_expert;
  FRUGAL_CHECK(out.size() == size_t(k * n_tokens));
  const uint64_t key = tensor_key(seed, spec.name);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t start = int64_t(mix64(key + uint64_t(t) * kGolden) % uint64_t(ne));
    for (int64_t j = 0; j < k; ++j) out[size_t(t * k + j)] = int32_t((start + j) % ne);
  }
}

namespace {

// deepseek4's hash layers: the table as i32, not quantised.
void add_token_experts(gguf::Writer& writer, const ModelConfig& cfg, const TensorSpec& spec, uint64_t seed,
                       SynthSummary& summary) {
  const int64_t k = spec.shape[0], n_tokens = spec.shape[1];
  const uint64_t n_bytes = uint64_t(k * n_tokens) * sizeof(int32_t);
  summary.tensors.push_back({spec.name, TensorType::I32, spec.shape, n_bytes});
  writer.add_tensor(spec.name, TensorType::I32, {uint64_t(k), uint64_t(n_tokens)},
                    [cfg, spec, seed, k, n_tokens](std::span<uint8_t> out) {
                      FRUGAL_CHECK(out.size() == size_t(k * n_tokens) * sizeof(int32_t));
                      std::vector<int32_t> ids(size_t(k * n_tokens));
                      synth_token_experts(cfg, spec, seed, ids);
                      std::memcpy(out.data(), ids.data(), out.size());
                    });
}

}  // namespace

gguf::Writer synth_writer(const ModelConfig& cfg_in, const gguf::Metadata& tokenizer, const SynthOptions& opts,
                          SynthSummary* summary_out) {
  auto cfg = std::make_shared<const ModelConfig>(cfg_in);
  validate_config(*cfg);
  gguf::Writer writer;
  config_to_metadata(*cfg, writer.metadata());
  writer.set("general.quantization_version", gguf::Value::make_u32(2));
  writer.set("general.file_type", gguf::Value::make_u32(quant::file_type_code(opts.type)));
  if (tokenizer.entries().empty()) {
    add_byte_tokenizer(cfg->n_vocab, writer.metadata());
  } else {
    const int64_t count = int64_t(tokenizer.get_string_array("tokenizer.ggml.tokens").size());
    if (count != cfg->n_vocab)
      fail("tokenizer has ", count, " tokens but the model's n_vocab is ", cfg->n_vocab);
    for (const auto& [key, value] : tokenizer.entries()) writer.set(key, value);
  }

  if (opts.router_skew < 0 || !std::isfinite(opts.router_skew))
    fail("synth: --router-skew must be a finite number >= 0, not ", opts.router_skew);
  if (opts.router_skew > 0 && cfg->n_expert < 2) fail("synth: --router-skew needs a model with experts");
  if (opts.router_skew > 0) writer.set("frugal.synth.router_skew", gguf::Value::make_f32(float(opts.router_skew)));

  SynthSummary summary;
  const uint64_t seed = opts.seed;
  for (const TensorSpec& spec : expected_tensors(*cfg)) {
    if (spec.role == TensorRole::kTokenExperts) {
      add_token_experts(writer, *cfg, spec, seed, summary);
      continue;
    }
    const auto choice = quant::choose_type(opts.type, spec.name, spec.shape, int(cfg->n_layer), cfg->tied_output,
                                             cfg->n_expert > 0);
    const TensorType type = choice.type;
    if (!quant::can_quantize(type))
      fail("synth: tensor type ", tensor_type_name(type), " (for ", spec.name, ") cannot be quantised yet");
    std::vector<uint64_t> shape(spec.shape.begin(), spec.shape.end());
    const uint64_t n_bytes = row_bytes(type, uint64_t(spec.fan_in())) * uint64_t(spec.n_elements() / spec.fan_in());
    summary.tensors.push_back({spec.name, type, spec.shape, n_bytes});
    summary.n_params += uint64_t(spec.n_elements());
    summary.n_bytes += n_bytes;
    auto shared_spec = std::make_shared<const TensorSpec>(spec);
    const double skew = opts.router_skew;
    writer.add_tensor(spec.name, type, std::move(shape), [cfg, shared_spec, type, seed, skew](std::span<uint8_t> out) {
      const TensorSpec& s = *shared_spec;
      const int64_t n = s.fan_in();
      const int64_t rows = s.n_elements() / n;
      const size_t rb = row_bytes(type, uint64_t(n));
      FRUGAL_CHECK(out.size() == rb * size_t(rows));
      // Rows in chunks of about 8M values: memory stays bounded by the
      // output tensor, and each chunk is generated in parallel.
      const int64_t chunk = std::max<int64_t>(1, (int64_t{8} << 20) / n);
      std::vector<float> values(size_t(std::min(chunk, rows) * n));
      for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t nr = std::min(chunk, rows - r0);
        ThreadPool::global().parallel_for(nr, std::max<int64_t>(1, 4096 / n), [&](int64_t b, int64_t e, int) {
          synth_rows(*cfg, s, seed, r0 + b, r0 + e, values.data() + b * n, skew);
        });
        quant::quantize_rows(type, values.data(), out.data() + size_t(r0) * rb, nr, n);
      }
    });
  }
  if (summary_out) *summary_out = std::move(summary);
  return writer;
}

SynthSummary write_synth_model(const ModelConfig& cfg, const gguf::Metadata& tokenizer, const SynthOptions& opts,
                               const std::string& path) {
  SynthSummary summary;
  synth_writer(cfg, tokenizer, opts, &summary).write(path, opts.progress_label);
  return summary;
}

}  // namespace frugal::model
