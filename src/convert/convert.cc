// Hugging Face -> GGUF: every source tensor checked first, then streamed one
// GGUF tensor at a time through the writer (memory: the largest tensor).
#include "convert/convert.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "base/read_file.h"
#include "base/thread_pool.h"
#include "convert/fp8_blocks.h"
#include "convert/hf_layout.h"
#include "convert/mxfp4_layout.h"
#include "convert/safetensors.h"
#include "gguf/writer.h"
#include "model/synth.h"
#include "quant/quant.h"
#include "quant/recipe.h"
#include "tokenizer/hf_import.h"

namespace frugal::convert {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// config.json's torch_dtype (newer files: dtype) as a safetensors dtype name;
// "" when absent.
std::string declared_dtype(const json& j, const std::string& where) {
  const char* key = j.contains("torch_dtype") ? "torch_dtype" : j.contains("dtype") ? "dtype" : nullptr;
  if (key == nullptr || j[key].is_null()) return "";
  const std::string v = j[key].is_string() ? j[key].get<std::string>() : "";
  if (v == "float32") return "F32";
  if (v == "float16") return "F16";
  if (v == "bfloat16") return "BF16";
  fail(where, ": ", key, " '", j[key].dump(), "' is not one convert reads (float32, float16, bfloat16)");
}

json read_json(const fs::path& p) {
  try {
    return json::parse(read_whole_file(p.string()));
  } catch (const json::exception& e) {
    fail(p.string(), ": not valid JSON: ", e.what());
  }
}

// Drops the pages of a source tensor from this process once its GGUF tensor
// is written: the mapping is read-only, so the pages stay in (or leave) the
// page cache as the kernel likes, and the resident size stays near the
// tensor being converted instead of growing to the whole checkpoint.
void release_pages(const StTensor& t) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(t.data) + page - 1) / page * page;
  const uintptr_t end = (uintptr_t(t.data) + t.n_bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Elements [begin, begin + out.size()) of a source tensor as f32.
using SourceReader = std::function<void(int64_t begin, std::span<float> out)>;

struct Planned {
  model::TensorSpec spec;
  HfSource source;
  std::vector<const StTensor*> tensors;
  std::vector<const StTensor*> scales;  // per tensor: its fp8 (or FP4) block scales, or nullptr
  bool fp4 = false;  // the tensors are FP4 experts (HfFamily::fp4_experts), copied into MXFP4 blocks
  std::vector<float> computed;  // a tensor the converter makes (rope_freqs), else empty
  // deepseek2's split kv_b: GGUF row r from the one kv_b_proj tensor.
  std::function<void(const SourceReader& kv_b, int64_t r, float* out)> gather;
};

// gpt-oss's MXFP4 experts: GGUF row R (expert R / rows, row R % rows) is
// row (R % rows) * stride + offset of the expert's blocks and scales.
void write_mxfp4(const Planned& q, std::span<uint8_t> dst, int64_t n, int64_t rows) {
  const StTensor &blocks = *q.tensors[0], &scales = *q.tensors[1];
  const int64_t n_blocks = n / quant::QK_MXFP4, per_expert = rows / q.source.shape[0];
  const int64_t hf_rows = q.source.shape[1];
  FRUGAL_CHECK(dst.size() == size_t(rows * n_blocks) * sizeof(quant::BlockMXFP4));
  auto* out = reinterpret_cast<quant::BlockMXFP4*>(dst.data());
  ThreadPool::global().parallel_for(rows, 64, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t hf_row = r / per_expert * hf_rows + r % per_expert * q.source.stride + q.source.offset;
      for (int64_t k = 0; k < n_blocks; ++k)
        mxfp4_block_from_hf(blocks.data + (hf_row * n_blocks + k) * 16, scales.data[hf_row * n_blocks + k],
                            out[r * n_blocks + k]);
    }
  });
}

// DeepSeek-V4's FP4 experts: GGUF row R is row R % rows of expert R / rows,
// each run of 16 bytes and its scale one MXFP4 block (mxfp4_layout.h).
void write_fp4_experts(const Planned& q, std::span<uint8_t> dst, int64_t n, int64_t rows) {
  const int64_t n_blocks = n / quant::QK_MXFP4, per_expert = rows / int64_t(q.tensors.size());
  FRUGAL_CHECK(dst.size() == size_t(rows * n_blocks) * sizeof(quant::BlockMXFP4));
  auto* out = reinterpret_cast<quant::BlockMXFP4*>(dst.data());
  ThreadPool::global().parallel_for(rows, 64, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const StTensor &w = *q.tensors[size_t(r / per_expert)], &s = *q.scales[size_t(r / per_expert)];
      const int64_t at = r % per_expert * n_blocks;
      for (int64_t k = 0; k < n_blocks; ++k)
        mxfp4_block_from_hf(w.data + (at + k) * 16, s.data[at + k], out[r * n_blocks + k]);
    }
  });
}

// DeepSeek-V4's token -> experts table: [vocab, k] in the checkpoint is the
// GGUF's {k, vocab} I32, element for element (ids checked when planned).
void write_ids(const StTensor& t, std::span<uint8_t> dst) {
  const std::vector<int64_t> ids = t.read_ids();
  FRUGAL_CHECK(dst.size() == ids.size() * sizeof(int32_t));
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t v = int32_t(ids[i]);
    std::memcpy(dst.data() + i * sizeof v, &v, sizeof v);
  }
  release_pages(t);
}

// gpt-oss checkpoints saved unquantised (fine-tunes): experts.gate_up_proj
// [experts, n_embd, 2 n_ff] and down_proj [experts, n_ff, n_embd], each
// expert's matrix transposed against the GGUF's rows (HfSource::transposed,
// gate and up columns interleaved). Used when the MXFP4 blocks are absent.
void plain_experts(Planned& p, const Checkpoint& ck) {
  const std::string blocks = p.source.names[0];
  const std::string plain = blocks.substr(0, blocks.size() - std::string_view("_blocks").size());
  if (ck.find(plain) == nullptr) return;  // neither: the blocks are named as missing
  const int64_t experts = p.source.shape[0], out = p.source.shape[1], in = p.source.shape[2] * 32;
  p.source.names = {plain};
  p.source.shape = {experts, in, out};
  p.source.mxfp4 = false;
  p.source.transposed = true;
}

// GGUF rows [r0, r0 + nr) of a transposed source (HfSource::transposed):
// for each expert they span, one contiguous run of columns per source row,
// read in parallel over the source rows, rather than a strided read per value.
void read_transposed(const Planned& q, int64_t r0, int64_t nr, int64_t n, float* values) {
  const StTensor& t = *q.tensors[0];
  const int64_t experts = q.source.shape[0], in = q.source.shape[1], out = q.source.shape[2];
  const int64_t per_expert = q.spec.n_elements() / n / experts, stride = q.source.stride;
  FRUGAL_CHECK(in == n);
  for (int64_t a = r0; a < r0 + nr;) {
    const int64_t e = a / per_expert, b = std::min(r0 + nr, (e + 1) * per_expert);
    const int64_t first = a % per_expert * stride + q.source.offset, span = (b - a - 1) * stride + 1;
    ThreadPool::global().parallel_for(in, 16, [&](int64_t i0, int64_t i1, int) {
      std::vector<float> buf(static_cast<size_t>(span));
      for (int64_t i = i0; i < i1; ++i) {
        t.read_f32((e * in + i) * out + first, buf);
        for (int64_t k = 0; k < b - a; ++k) values[(a - r0 + k) * n + i] = buf[size_t(k * stride)];
      }
    });
    a = b;
  }
}

// Qwen3.5's value heads along a row (HfVHeads::columns: out_proj's
// columns, dt_bias, A_log): GGUF element i is the checkpoint's source(i).
void gather_columns(const HfVHeads& v, float* row, int64_t n) {
  const std::vector<float> hf(row, row + n);
  for (int64_t i = 0; i < n; ++i) row[i] = hf[size_t(v.source(i))];
}

// The joint attn_kv_b that a split attn_k_b / attn_v_b is cut from.
model::TensorSpec joint_kv_b(const model::ModelConfig& c, int layer) {
  return {.name = gguf::tensor_name(model::TensorId::kAttnKvB, layer),
          .shape = {c.kv_lora_rank, c.n_head * (c.qk_nope_head_dim + c.v_head_dim)},
          .role = gguf::tensor_role(model::TensorId::kAttnKvB),
          .layer = layer,
          .id = model::TensorId::kAttnKvB};
}

// attn_k_b row h*rank + c is column c of head h's key rows of kv_b; attn_v_b
// row h*v + i is kv_b row h*(nope + v) + nope + i (as synth's split).
std::function<void(const SourceReader&, int64_t, float*)> kv_b_gather(const model::ModelConfig& c, bool keys) {
  const int64_t rank = c.kv_lora_rank, nope = c.qk_nope_head_dim, v = c.v_head_dim;
  if (keys)
    return [=](const SourceReader& kv_b, int64_t r, float* out) {
      const int64_t h = r / rank, col = r % rank;
      for (int64_t j = 0; j < nope; ++j) kv_b((h * (nope + v) + j) * rank + col, std::span<float>(out + j, 1));
    };
  return [=](const SourceReader& kv_b, int64_t r, float* out) {
    kv_b((r / v * (nope + v) + nope + r % v) * rank, std::span<float>(out, size_t(rank)));
  };
}

}  // namespace

ConvertSummary convert_hf_to_gguf(const std::string& hf_dir, const std::string& out, const ConvertOptions& opts) {
  const fs::path dir(hf_dir);
  if (!fs::is_directory(dir)) fail(hf_dir, ": not a folder");
  const fs::path cfg_path = dir / "config.json";
  if (!fs::exists(cfg_path)) fail(hf_dir, ": config.json is missing");
  const json hf_cfg = read_json(cfg_path);
  ConvertSummary sum;
  sum.config = config_from_hf(hf_cfg, cfg_path.string());
  model::ModelConfig& cfg = sum.config;
  const HfFamily& fam = hf_family_for_class(hf_cfg["architectures"][0].get<std::string>());
  if (opts.mla_kv_b == ConvertOptions::KvB::kSplit && !cfg.is_mla())
    fail("convert: --mla-kv-b split is for latent attention (deepseek2), not ", cfg.arch);
  if (cfg.is_mla())
    cfg.mla_split_kv_b = opts.mla_kv_b == ConvertOptions::KvB::kSplit ||
                         (opts.mla_kv_b == ConvertOptions::KvB::kAuto && fam.split_kv_b);
  sum.hf_class = fam.hf_class;
  const std::string dtype = declared_dtype(hf_cfg, cfg_path.string());
  const Checkpoint ck = Checkpoint::open(hf_dir);
  sum.n_shards = ck.n_files();
  // A next-token-prediction block that config.json counts but the
  // checkpoint does not hold (a language model re-saved without mtp.*):
  // the file without it, which runs the same.
  if (*fam.mtp_path && cfg.n_nextn_layer > 0) {
    const std::vector<std::string> names = ck.names();
    if (std::none_of(names.begin(), names.end(), [&](const std::string& n) { return n.starts_with(fam.mtp_path); }))
      cfg.n_nextn_layer = 0;
  }

  gguf::Metadata tok;
  // tokenizer.json, or a tiktoken vocabulary where a model ships that instead (Kimi-K2).
  fs::path tok_path = dir / "tokenizer.json";
  if (!fs::exists(tok_path) && fs::exists(dir / "tiktoken.model")) tok_path = dir / "tiktoken.model";
  if (!fs::exists(tok_path)) fail(hf_dir, ": tokenizer.json is missing (and there is no tiktoken.model)");
  tokenizer::import_hf_tokenizer(tok_path.string(), tok);
  const int64_t n_vocab = cfg.n_vocab;
  sum.n_tokens = tok.get_string_array("tokenizer.ggml.tokens").size();
  if (int64_t(sum.n_tokens) > n_vocab)
    fail(tok_path.string(), ": ", sum.n_tokens, " tokens, more than config.json's vocab_size ", n_vocab);
  model::fit_tokenizer_vocab(tok, cfg);  // pads to vocab_size as the published files do
  sum.chat_template = tok.has("tokenizer.chat_template");

  // Every source tensor is checked before anything is written.
  std::vector<Planned> plan;
  std::set<std::string> used;
  // float8_e4m3 matrices (DeepSeek-V3/R1, Kimi-K2) come with a scale per
  // block, which config.json's quantization_config sizes.
  const Fp8Blocks fp8 = fp8_blocks_from_config(hf_cfg, cfg_path.string());
  // ids: a token -> experts table (DeepSeek-V4's tid2eid), integers
  // rather than values.
  auto check_dtype = [&](const StTensor& t, bool ids = false) {
    const bool integer = t.dtype == StDtype::kI32 || t.dtype == StDtype::kI64;
    if (ids && !integer)
      fail(t.file, ": tensor '", t.name, "' has dtype ", t.dtype_name, " (a token -> experts table is I32 or I64)");
    if (ids) return;
    if (t.dtype == StDtype::kOther || t.dtype == StDtype::kU8 || t.dtype == StDtype::kI8 ||
        t.dtype == StDtype::kE8M0 || integer)
      fail(t.file, ": tensor '", t.name, "' has dtype ", t.dtype_name,
           " (convert reads F32, F16, BF16, F8_E4M3 with block scales, U8 as gpt-oss's MXFP4 experts and I8 as "
           "DeepSeek-V4's FP4 experts)");
    if (t.dtype == StDtype::kF8E4M3 && !fp8.enabled())
      fail(t.file, ": tensor '", t.name, "' has dtype F8_E4M3 but config.json has no quantization_config for fp8");
    if (t.dtype == StDtype::kF8E4M3 && t.shape.size() != 2)
      fail(t.file, ": tensor '", t.name, "' is F8_E4M3 but not a matrix (shape ", shape_text(t.shape), ")");
  };
  auto scale_of = [&](const StTensor& t) -> const StTensor* {
    if (t.dtype != StDtype::kF8E4M3) return nullptr;
    const std::string name = fp8_scale_name(t.name, fam.fp8_scales);
    const StTensor* s = ck.find(name);
    if (s == nullptr) fail(t.file, ": tensor '", name, "' (the block scales of this F8_E4M3 '", t.name, "') is missing");
    const auto want = fp8_scale_shape(t.shape, fp8);
    if (s->shape != want)
      fail(s->file, ": tensor '", name, "' has shape ", shape_text(s->shape), " but ", shape_text(t.shape), " in ",
           fp8.rows, "x", fp8.cols, " blocks needs ", shape_text(want));
    if (s->dtype != StDtype::kF32 && s->dtype != StDtype::kBF16 && s->dtype != StDtype::kF16 &&
        s->dtype != StDtype::kE8M0)
      fail(s->file, ": tensor '", name, "' has dtype ", s->dtype_name, " (block scales are F32, BF16, F16 or F8_E8M0)");
    used.insert(name);
    return s;
  };
  // An FP4 expert (HfFamily::fp4_experts): I8 [rows, cols / 2] and its E8M0
  // scales [rows, cols / 32]; `shape` is the expert's [rows, cols].
  auto fp4_scales_of = [&](const StTensor& t, const std::vector<int64_t>& shape) -> const StTensor* {
    const std::vector<int64_t> packed{shape[0], shape[1] / 2}, scales{shape[0], shape[1] / 32};
    if (t.dtype != StDtype::kI8) fail(t.file, ": tensor '", t.name, "' has dtype ", t.dtype_name, " beside I8 (FP4) experts");
    if (shape[1] % 32 != 0 || t.shape != packed)
      fail(t.file, ": tensor '", t.name, "' has shape ", shape_text(t.shape), " but FP4 pairs of ", shape_text(shape),
           " need ", shape_text(packed), " (in blocks of 32)");
    const std::string name = fp8_scale_name(t.name, fam.fp8_scales);
    const StTensor* s = ck.find(name);
    if (s == nullptr) fail(t.file, ": tensor '", name, "' (the block scales of this FP4 '", t.name, "') is missing");
    if (s->shape != scales || s->dtype != StDtype::kE8M0)
      fail(s->file, ": tensor '", name, "' is ", s->dtype_name, " ", shape_text(s->shape), " but FP4 scales of '",
           t.name, "' are F8_E8M0 ", shape_text(scales));
    used.insert(name);
    return s;
  };
  for (const model::TensorSpec& spec : model::expected_tensors(cfg)) {
    if (spec.id == model::TensorId::kRopeFreqs) {
      plan.push_back({.spec = spec, .source = {}, .tensors = {}, .scales = {},
                      .computed = llama3_rope_factors(hf_model_keys(hf_cfg), cfg), .gather = nullptr});
      continue;
    }
    const bool k_b = spec.id == model::TensorId::kAttnKB, v_b = spec.id == model::TensorId::kAttnVB;
    Planned p{.spec = spec,
              .source = hf_source(fam, cfg, k_b || v_b ? joint_kv_b(cfg, spec.layer) : spec),
              .tensors = {},
              .scales = {},
              .computed = {},
              .gather = k_b || v_b ? kv_b_gather(cfg, k_b) : nullptr};
    if (p.source.mxfp4 && ck.find(p.source.names[0]) == nullptr) plain_experts(p, ck);
    // Qwen3.5's experts stacked or one tensor each: whichever the checkpoint holds.
    if (ck.find(p.source.names[0]) == nullptr)
      if (auto other = hf_other_expert_layout(fam, cfg, spec); other && ck.find(other->names[0]) != nullptr)
        p.source = std::move(*other);
    // DeepSeek-V4's FP4 experts, whose first tensor says so.
    if (const StTensor* first = ck.find(p.source.names[0]); fam.fp4_experts && first != nullptr &&
                                                            first->dtype == StDtype::kI8 &&
                                                            spec.role == model::TensorRole::kExpert)
      p.fp4 = true;
    for (const std::string& name : p.source.names) {
      const StTensor* t = ck.find(name);
      if (t == nullptr) fail(hf_dir, ": tensor '", name, "' (", spec.name, " of the GGUF) is missing");
      if (p.fp4) {
        p.tensors.push_back(t);
        p.scales.push_back(fp4_scales_of(*t, p.source.shape));
        used.insert(name);
        continue;
      }
      if (p.source.mxfp4) {  // blocks, then their scales (one byte per block)
        const bool blocks = name == p.source.names[0];
        std::vector<int64_t> want = p.source.shape;
        if (!blocks) want.pop_back();
        if (t->shape != want)
          fail(t->file, ": tensor '", name, "' has shape ", shape_text(t->shape), " but config.json implies ",
               shape_text(want));
        if (t->dtype_name != "U8")
          fail(t->file, ": tensor '", name, "' has dtype ", t->dtype_name, " (MXFP4 ", blocks ? "blocks" : "scales",
               " are U8)");
        p.tensors.push_back(t);
        p.scales.push_back(nullptr);
        used.insert(name);
        continue;
      }
      if (t->shape != p.source.shape)
        fail(t->file, ": tensor '", name, "' has shape ", shape_text(t->shape), " but config.json implies ",
             shape_text(p.source.shape));
      const bool ids = spec.role == model::TensorRole::kTokenExperts;
      check_dtype(*t, ids);
      if (ids)
        for (int64_t e : t->read_ids())
          if (e < 0 || e >= cfg.n_expert)
            fail(t->file, ": tensor '", name, "' holds expert id ", e, " of ", cfg.n_expert, " experts");
      // Vectors kept in F32 beside BF16 matrices (DeepSeek-V3's and GLM-4.5's
      // e_score_correction_bias), and the tensors the GGUF keeps in F32 too
      // (DeepSeek-V4's hyper-connection mixing), are what their authors meant.
      const bool kept_f32 =
          t->dtype == StDtype::kF32 && (t->shape.size() == 1 || gguf::tensor_stays_f32(spec.id));
      if (!ids && !dtype.empty() && t->dtype_name != dtype && !kept_f32 && t->dtype != StDtype::kF8E4M3)
        fail(t->file, ": tensor '", name, "' has dtype ", t->dtype_name, " but config.json says ", dtype);
      p.tensors.push_back(t);
      p.scales.push_back(scale_of(*t));
      used.insert(name);
    }
    plan.push_back(std::move(p));
  }
  for (const HfOptional& o : hf_optional_tensors(fam, cfg)) {
    const StTensor* t = ck.find(o.hf);
    if (t == nullptr) continue;
    check_dtype(*t);
    model::TensorSpec spec{.name = gguf::tensor_name(o.tensor, o.block),
                           .shape = {t->shape.rbegin(), t->shape.rend()},
                           .role = gguf::tensor_role(o.tensor),
                           .layer = static_cast<int>(o.block),
                           .id = o.tensor};
    HfSource source;
    source.names = {o.hf};
    source.shape = t->shape;
    source.value = o.value;
    plan.push_back({.spec = spec, .source = source, .tensors = {t}, .scales = {scale_of(*t)}, .computed = {},
                    .gather = nullptr});
    used.insert(o.hf);
  }
  for (const std::string& name : ck.names())
    if (!used.contains(name) && !hf_tensor_is_ignored(fam, cfg, name))
      fail(ck.find(name)->file, ": tensor '", name, "' is not part of a ", fam.hf_class,
           " model as config.json describes it");

  gguf::Writer writer;
  config_to_metadata(cfg, writer.metadata());
  writer.set("general.quantization_version", gguf::Value::make_u32(2));
  writer.set("general.file_type", gguf::Value::make_u32(quant::file_type_code(opts.type)));
  for (const auto& [key, value] : tok.entries()) writer.set(key, value);

  for (Planned& p : plan) {
    const auto choice = quant::choose_type(opts.type, p.spec.name, p.spec.shape, int(cfg.n_layer), cfg.tied_output,
                                             cfg.n_expert > 0);
    // MXFP4 experts stay MXFP4: their blocks are copied, not requantised.
    const bool mxfp4 = p.source.mxfp4 || p.fp4;
    const bool ids = p.spec.role == model::TensorRole::kTokenExperts;  // a token -> experts table, copied as I32
    const TensorType type = mxfp4 ? TensorType::MXFP4 : ids ? TensorType::I32 : choice.type;
    if (!mxfp4 && !ids && !quant::can_quantize(type))
      fail("convert: tensor type ", tensor_type_name(type), " (for ", p.spec.name, ") cannot be written yet");
    const int64_t n = p.spec.fan_in(), rows = p.spec.n_elements() / n;
    const uint64_t n_bytes = row_bytes(type, uint64_t(n)) * uint64_t(rows);
    sum.n_tensors += 1;
    if (!ids) sum.n_params += uint64_t(p.spec.n_elements());
    sum.n_bytes += n_bytes;
    auto shared = std::make_shared<const Planned>(std::move(p));
    writer.add_tensor(shared->spec.name, type, std::vector<uint64_t>(shared->spec.shape.begin(), shared->spec.shape.end()),
                      [shared, type, n, rows, fp8](std::span<uint8_t> dst) {
                        const Planned& q = *shared;
                        const size_t rb = row_bytes(type, uint64_t(n));
                        FRUGAL_CHECK(dst.size() == rb * size_t(rows));
                        if (q.spec.role == model::TensorRole::kTokenExperts) {
                          write_ids(*q.tensors[0], dst);
                          return;
                        }
                        if (q.source.mxfp4 || q.fp4) {
                          if (q.fp4) write_fp4_experts(q, dst, n, rows);
                          else write_mxfp4(q, dst, n, rows);
                          for (const StTensor* t : q.tensors) release_pages(*t);
                          for (const StTensor* t : q.scales)
                            if (t != nullptr) release_pages(*t);
                          return;
                        }
                        if (!q.computed.empty()) {
                          FRUGAL_CHECK(int64_t(q.computed.size()) == n * rows);
                          quant::quantize_rows(type, q.computed.data(), dst.data(), rows, n);
                          return;
                        }
                        const int64_t per_source = rows / int64_t(q.tensors.size());
                        // Rows in chunks of about 8M values, read in parallel.
                        const int64_t chunk = std::max<int64_t>(1, (int64_t{8} << 20) / n);
                        std::vector<float> values(size_t(std::min(chunk, rows) * n));
                        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
                          const int64_t nr = std::min(chunk, rows - r0);
                          if (q.source.transposed) {
                            read_transposed(q, r0, nr, n, values.data());
                            quant::quantize_rows(type, values.data(), dst.data() + size_t(r0) * rb, nr, n);
                            continue;
                          }
                          ThreadPool::global().parallel_for(nr, std::max<int64_t>(1, 4096 / n), [&](int64_t b, int64_t e, int) {
                            for (int64_t r = r0 + b; r < r0 + e; ++r) {
                              const size_t k = q.gather ? 0 : size_t(r / per_source);
                              const SourceReader read = [&q, k, &fp8](int64_t begin, std::span<float> out) {
                                if (q.scales[k] != nullptr) read_fp8_scaled(*q.tensors[k], *q.scales[k], fp8, begin, out);
                                else q.tensors[k]->read_f32(begin, out);
                              };
                              if (q.gather) {
                                q.gather(read, r, values.data() + (r - r0) * n);
                                continue;
                              }
                              const int64_t src = q.source.source_row(r % per_source);
                              float* row = values.data() + (r - r0) * n;
                              if (q.source.strided_elements) {  // gpt-oss's gate/up biases, interleaved
                                const int64_t st = q.source.stride, begin = src * n * st + q.source.offset;
                                for (int64_t i = 0; i < n; ++i) read(begin + i * st, std::span<float>(row + i, 1));
                              } else {
                                read(src * n, std::span<float>(row, size_t(n)));
                              }
                              if (q.source.v_heads.columns) gather_columns(q.source.v_heads, row, n);
                              if (q.source.value != HfValue::kCopy)  // Qwen3-Next's norms and A_log
                                for (int64_t i = 0; i < n; ++i) row[i] = hf_value_to_gguf(q.source.value, row[i]);
                            }
                          });
                          quant::quantize_rows(type, values.data(), dst.data() + size_t(r0) * rb, nr, n);
                        }
                        for (const StTensor* t : q.tensors) release_pages(*t);
                        for (const StTensor* t : q.scales)
                          if (t != nullptr) release_pages(*t);
                      });
  }
  writer.write(out, opts.progress_label);
  return sum;
}

}  // namespace frugal::convert
