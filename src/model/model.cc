// Model loading: configuration from the file's keys, every tensor checked
// against the architecture's list, then bound by name into LayerWeights.
#include "model/model.h"

#include <cstring>

#include "base/error.h"
#include "model/repack_weights.h"
#include "quant/quant.h"
#include "quant/repack.h"

namespace frugal::model {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string shape_str(const std::vector<uint64_t>& s) {
  std::vector<int64_t> v(s.begin(), s.end());
  return shape_str(v);
}

}  // namespace

void validate_tensors(const ModelConfig& cfg, const gguf::Reader& file) {
  for (const TensorSpec& spec : expected_tensors(cfg)) {
    const gguf::TensorInfo* t = find_model_tensor(file, cfg.arch, spec.name);
    if (!t)
      fail(file.path(), ": tensor '", spec.name, "' is missing (", cfg.arch, " expects shape ",
           shape_str(spec.shape), ")");
    bool same = t->shape.size() == spec.shape.size();
    for (size_t i = 0; same && i < spec.shape.size(); ++i)
      same = t->shape[i] == static_cast<uint64_t>(spec.shape[i]);
    if (!same)
      fail(file.path(), ": tensor '", spec.name, "' has shape ", shape_str(t->shape), ", expected ",
           shape_str(spec.shape));
    if (spec.role == TensorRole::kTokenExperts) {
      // An integer table, read as is: i32, each id a valid expert.
      if (t->type != TensorType::I32)
        fail(file.path(), ": tensor '", spec.name, "' has type ", tensor_type_name(t->type), ", expected i32");
      const auto* ids = reinterpret_cast<const int32_t*>(t->data);
      if (reinterpret_cast<uintptr_t>(ids) % alignof(int32_t) != 0)
        fail(file.path(), ": tensor '", spec.name, "' data is not aligned to 4 bytes");
      for (int64_t i = 0; i < spec.n_elements(); ++i)
        if (ids[i] < 0 || ids[i] >= cfg.n_expert)
          fail(file.path(), ": tensor '", spec.name, "' holds expert id ", ids[i], " at ", i, ", outside [0, ",
               cfg.n_expert, ")");
      continue;
    }
    if (!quant::can_dequantize(quant::base_type(t->type)))
      fail(file.path(), ": tensor '", spec.name, "' has type ", tensor_type_name(t->type),
           ", which frugal cannot compute with");
    // Row-interleaved matrices (frugal quantize --repack): whole groups of
    // rows, and only where rows are not read one at a time.
    if (quant::interleaved_rows(t->type) > 1 &&
        (!quant::repack_allowed(spec.name) || spec.shape.size() < 2 || spec.shape[1] % quant::kRepackRows != 0))
      fail(file.path(), ": tensor '", spec.name, "' of shape ", shape_str(spec.shape), " cannot be stored as ",
           tensor_type_name(t->type));
    // Matrices are read row by row: the row length must fill whole blocks.
    if (spec.shape[0] % tensor_type_info(t->type).block_size != 0)
      fail(file.path(), ": tensor '", spec.name, "' of type ", tensor_type_name(t->type), " has row length ",
           spec.shape[0], ", not a multiple of the type's block size ", tensor_type_info(t->type).block_size);
    // Matrices are read in place as arrays of their element type (1-D
    // vectors are copied when needed), so float data must sit on a float.
    const size_t align = t->type == TensorType::F32 ? 4 : (t->type == TensorType::F16 || t->type == TensorType::BF16) ? 2 : 1;
    if (spec.shape.size() > 1 && reinterpret_cast<uintptr_t>(t->data) % align != 0)
      fail(file.path(), ": tensor '", spec.name, "' data is not aligned to ", align, " bytes (general.alignment ",
           file.alignment(), ")");
  }
}

Model::Model(gguf::Reader file) : file_(std::move(file)) {}

std::unique_ptr<Model> Model::load(const std::string& gguf_path, const LoadOptions& options) {
  return from_reader(gguf::Reader::open(gguf_path), options);
}

std::unique_ptr<Model> Model::from_reader(gguf::Reader file, const LoadOptions& options) {
  std::unique_ptr<Model> m(new Model(std::move(file)));
  m->config_ = config_from_file(m->file_);
  validate_tensors(m->config_, m->file_);
  m->bind();
  if (options.repack || options.in_memory) {
    const MappedFile* mapping = m->file_.mapping();
    m->repacked_ = place_weights(m->weights_, m->repacked_memory_,
                                 {.repack = options.repack,
                                  .copy = options.in_memory,
                                  .file = mapping,
                                  .n_threads = options.threads});
    if (mapping && (m->repacked_.tensors > 0 || m->repacked_.copied_bytes > 0)) mapping->skip_populate();
  }
  return m;
}

void Model::bind() {
  const ModelConfig& c = config_;
  using enum TensorId;
  // A tensor of the table, global (block -1) or of a block.
  auto info = [&](TensorId id, int64_t block = -1) -> const gguf::TensorInfo& {
    const std::string name = gguf::tensor_name(id, block);
    const gguf::TensorInfo* t = find_model_tensor(file_, c.arch, name);
    return t ? *t : file_.tensor(name);  // the latter throws, naming the tensor
  };
  auto matrix = [&](TensorId id, int64_t block = -1) {
    const gguf::TensorInfo& t = info(id, block);
    return kernels::WeightMatrix{t.type, t.data, static_cast<int64_t>(t.rows()), static_cast<int64_t>(t.shape[0])};
  };
  auto vec = [&](TensorId id, int64_t block = -1) {
    const gguf::TensorInfo& t = info(id, block);
    ParamVector v;
    v.n = static_cast<int64_t>(t.n_elements);
    if (t.type == TensorType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0) {
      v.data = reinterpret_cast<const float*>(t.data);
    } else {
      std::vector<float>& copy = converted_.emplace_back(static_cast<size_t>(v.n));
      quant::dequantize_row(t.type, t.data, copy.data(), v.n);
      v.data = copy.data();
    }
    return v;
  };
  auto experts = [&](TensorId id, int64_t block = -1) {
    const gguf::TensorInfo& t = info(id, block);
    ExpertStack s;
    s.type = t.type;
    s.data = t.data;
    s.n_in = static_cast<int64_t>(t.shape[0]);
    s.n_out = static_cast<int64_t>(t.shape[1]);
    s.n_expert = static_cast<int64_t>(t.shape[2]);
    s.expert_bytes = row_bytes(t.type, t.shape[0]) * t.shape[1];
    return s;
  };

  weights_.token_embd = matrix(kTokenEmbd);
  weights_.output_norm = vec(kOutputNorm);
  weights_.output = c.tied_output ? weights_.token_embd : matrix(kOutput);
  if (c.rope_freq_factors) weights_.rope_freqs = vec(kRopeFreqs);
  if (c.has_hyper_connections()) {
    weights_.hc_head_fn = matrix(kOutputHcFn);
    weights_.hc_head_base = vec(kOutputHcBase);
    weights_.hc_head_scale = vec(kOutputHcScale);
  }
  weights_.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    LayerWeights& L = weights_.layers[static_cast<size_t>(il)];
    L.attn_norm = vec(kAttnNorm, il);
    if (c.layer_is_recurrent(il)) {
      if (c.ssm_split_proj) {
        L.wqkv = matrix(kAttnQkv, il);
        L.wgate = matrix(kAttnGate, il);
        L.ssm_beta = matrix(kSsmBeta, il);
        L.ssm_alpha = matrix(kSsmAlpha, il);
      } else {
        L.ssm_in = matrix(kSsmIn, il);
        L.ssm_ba = matrix(kSsmBa, il);
      }
      L.ssm_conv = vec(kSsmConv1d, il);
      L.ssm_dt = vec(kSsmDt, il);
      L.ssm_a = vec(kSsmA, il);
      L.ssm_norm = vec(kSsmNorm, il);
      L.ssm_out = matrix(kSsmOut, il);
    } else if (c.has_hyper_connections()) {
      L.hc_attn_fn = matrix(kHcAttnFn, il);
      L.hc_attn_base = vec(kHcAttnBase, il);
      L.hc_attn_scale = vec(kHcAttnScale, il);
      L.hc_ffn_fn = matrix(kHcFfnFn, il);
      L.hc_ffn_base = vec(kHcFfnBase, il);
      L.hc_ffn_scale = vec(kHcFfnScale, il);
      L.wq_a = matrix(kAttnQA, il);
      L.q_a_norm = vec(kAttnQANorm, il);
      L.wq_b = matrix(kAttnQB, il);
      L.wkv = matrix(kAttnKv, il);
      L.kv_a_norm = vec(kAttnKvANorm, il);
      L.wo_a = matrix(kAttnOutputA, il);
      L.wo_b = matrix(kAttnOutputB, il);
      if (c.layer_compress_ratio(il) > 0) {
        L.comp_kv = matrix(kAttnCompressorKv, il);
        L.comp_gate = matrix(kAttnCompressorGate, il);
        L.comp_ape = vec(kAttnCompressorApe, il);
        L.comp_norm = vec(kAttnCompressorNorm, il);
      }
      if (c.layer_has_indexer(il)) {
        L.idx_q_b = matrix(kIndexerQB, il);
        L.idx_proj = matrix(kIndexerProj, il);
        L.idx_comp_kv = matrix(kIndexerCompressorKv, il);
        L.idx_comp_gate = matrix(kIndexerCompressorGate, il);
        L.idx_comp_ape = vec(kIndexerCompressorApe, il);
        L.idx_comp_norm = vec(kIndexerCompressorNorm, il);
      }
    } else if (c.is_mla()) {
      if (c.q_lora_rank > 0) {
        L.wq_a = matrix(kAttnQA, il);
        L.q_a_norm = vec(kAttnQANorm, il);
        L.wq_b = matrix(kAttnQB, il);
      } else {
        L.wq = matrix(kAttnQ, il);
      }
      L.wkv_a_mqa = matrix(kAttnKvAMqa, il);
      L.kv_a_norm = vec(kAttnKvANorm, il);
      if (c.mla_split_kv_b) {
        L.wk_b = experts(kAttnKB, il);
        L.wv_b = experts(kAttnVB, il);
      } else {
        L.wkv_b = matrix(kAttnKvB, il);
      }
    } else {
      if (c.fused_qkv) {
        // The three products read their rows of the one matrix in place.
        const kernels::WeightMatrix qkv = matrix(kAttnQkv, il);
        const size_t rb = row_bytes(qkv.type, static_cast<uint64_t>(qkv.n_in));
        auto rows = [&](int64_t first, int64_t n) {
          // A row-interleaved file keeps groups of rows together: a part must start at a group.
          if (first % quant::interleaved_rows(qkv.type) != 0)
            fail(gguf::tensor_name(kAttnQkv, il), ": its ", tensor_type_name(qkv.type), " groups of ",
                 quant::interleaved_rows(qkv.type), " rows straddle the q/k/v boundary at row ", first);
          return kernels::WeightMatrix{qkv.type, static_cast<const uint8_t*>(qkv.data) + static_cast<size_t>(first) * rb,
                                       n, qkv.n_in};
        };
        L.wq = rows(0, c.n_embd_q());
        L.wk = rows(c.n_embd_q(), c.n_embd_k());
        L.wv = rows(c.n_embd_q() + c.n_embd_k(), c.n_embd_v());
      } else {
        L.wq = matrix(kAttnQ, il);
        L.wk = matrix(kAttnK, il);
        L.wv = matrix(kAttnV, il);
      }
      if (c.attn_bias) {
        L.bq = vec(kAttnQBias, il);
        L.bk = vec(kAttnKBias, il);
        L.bv = vec(kAttnVBias, il);
      }
      if (c.qk_norm == QkNorm::kPerHead || c.qk_norm == QkNorm::kWhole) {
        L.q_norm = vec(kAttnQNorm, il);
        L.k_norm = vec(kAttnKNorm, il);
      }
    }
    if (!c.layer_is_recurrent(il) && !c.has_hyper_connections()) L.wo = matrix(kAttnOutput, il);
    if (c.attn_out_bias) L.bo = vec(kAttnOutputBias, il);
    if (c.attn_sinks) L.sinks = vec(kAttnSinks, il);
    L.ffn_norm = vec(c.ffn_norm, il);
    if (c.layer_is_moe(il)) {
      L.router = matrix(kFfnGateInp, il);
      if (c.router_bias) L.router_bias = vec(kFfnGateInpBias, il);
      if (c.expert_bias) {
        L.gate_exps_b = vec(kFfnGateExpsBias, il);
        L.up_exps_b = vec(kFfnUpExpsBias, il);
        L.down_exps_b = vec(kFfnDownExpsBias, il);
      }
      if (c.expert_score_bias && !c.layer_is_hashed(il)) L.expert_score_bias = vec(kExpProbsB, il);
      if (c.layer_is_hashed(il))
        L.tid2eid = reinterpret_cast<const int32_t*>(info(kFfnGateTid2eid, il).data);
      L.gate_exps = experts(kFfnGateExps, il);
      L.up_exps = experts(kFfnUpExps, il);
      L.down_exps = experts(kFfnDownExps, il);
      if (c.n_ff_shexp > 0) {
        if (c.shared_expert_gate) L.shexp_gate = vec(kFfnGateInpShexp, il);
        L.gate_shexp = matrix(kFfnGateShexp, il);
        L.up_shexp = matrix(kFfnUpShexp, il);
        L.down_shexp = matrix(kFfnDownShexp, il);
      }
    } else {
      L.ffn_gate = matrix(kFfnGate, il);
      L.ffn_up = matrix(kFfnUp, il);
      L.ffn_down = matrix(kFfnDown, il);
    }
  }
}

void Model::embed(int32_t token, float* out) const {
  const kernels::WeightMatrix& e = weights_.token_embd;
  if (token < 0 || token >= e.n_out) fail("token id ", token, " is out of range [0, ", e.n_out, ")");
  const size_t rb = row_bytes(e.type, static_cast<uint64_t>(e.n_in));
  quant::dequantize_row(e.type, static_cast<const uint8_t*>(e.data) + static_cast<size_t>(token) * rb, out, e.n_in);
}

}  // namespace frugal::model
