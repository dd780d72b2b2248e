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
  auto info = [&](const std::string& name) -> const gguf::TensorInfo& {
    const gguf::TensorInfo* t = find_model_tensor(file_, c.arch, name);
    return t ? *t : file_.tensor(name);  // the latter throws, naming the tensor
  };
  auto matrix = [&](const std::string& name) {
    const gguf::TensorInfo& t = info(name);
    return kernels::WeightMatrix{t.type, t.data, static_cast<int64_t>(t.rows()), static_cast<int64_t>(t.shape[0])};
  };
  auto vec = [&](const std::string& name) {
    const gguf::TensorInfo& t = info(name);
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
  auto experts = [&](const std::string& name) {
    const gguf::TensorInfo& t = info(name);
    ExpertStack s;
    s.type = t.type;
    s.data = t.data;
    s.n_in = static_cast<int64_t>(t.shape[0]);
    s.n_out = static_cast<int64_t>(t.shape[1]);
    s.n_expert = static_cast<int64_t>(t.shape[2]);
    s.expert_bytes = row_bytes(t.type, t.shape[0]) * t.shape[1];
    return s;
  };

  weights_.token_embd = matrix("token_embd.weight");
  weights_.output_norm = vec("output_norm.weight");
  weights_.output = c.tied_output ? weights_.token_embd : matrix("output.weight");
  if (c.rope_freq_factors) weights_.rope_freqs = vec("rope_freqs.weight");
  if (c.has_hyper_connections()) {
    weights_.hc_head_fn = matrix("output_hc_fn.weight");
    weights_.hc_head_base = vec("output_hc_base.weight");
    weights_.hc_head_scale = vec("output_hc_scale.weight");
  }
  weights_.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    LayerWeights& L = weights_.layers[static_cast<size_t>(il)];
    const std::string b = "blk." + std::to_string(il) + ".";
    L.attn_norm = vec(b + "attn_norm.weight");
    if (c.layer_is_recurrent(il)) {
      if (c.ssm_split_proj) {
        L.wqkv = matrix(b + "attn_qkv.weight");
        L.wgate = matrix(b + "attn_gate.weight");
        L.ssm_beta = matrix(b + "ssm_beta.weight");
        L.ssm_alpha = matrix(b + "ssm_alpha.weight");
      } else {
        L.ssm_in = matrix(b + "ssm_in.weight");
        L.ssm_ba = matrix(b + "ssm_ba.weight");
      }
      L.ssm_conv = vec(b + "ssm_conv1d.weight");
      L.ssm_dt = vec(b + "ssm_dt.bias");
      L.ssm_a = vec(b + "ssm_a");
      L.ssm_norm = vec(b + "ssm_norm.weight");
      L.ssm_out = matrix(b + "ssm_out.weight");
    } else if (c.has_hyper_connections()) {
      L.hc_attn_fn = matrix(b + "hc_attn_fn.weight");
      L.hc_attn_base = vec(b + "hc_attn_base.weight");
      L.hc_attn_scale = vec(b + "hc_attn_scale.weight");
      L.hc_ffn_fn = matrix(b + "hc_ffn_fn.weight");
      L.hc_ffn_base = vec(b + "hc_ffn_base.weight");
      L.hc_ffn_scale = vec(b + "hc_ffn_scale.weight");
      L.wq_a = matrix(b + "attn_q_a.weight");
      L.q_a_norm = vec(b + "attn_q_a_norm.weight");
      L.wq_b = matrix(b + "attn_q_b.weight");
      L.wkv = matrix(b + "attn_kv.weight");
      L.kv_a_norm = vec(b + "attn_kv_a_norm.weight");
      L.wo_a = matrix(b + "attn_output_a.weight");
      L.wo_b = matrix(b + "attn_output_b.weight");
      if (c.layer_compress_ratio(il) > 0) {
        L.comp_kv = matrix(b + "attn_compressor_kv.weight");
        L.comp_gate = matrix(b + "attn_compressor_gate.weight");
        L.comp_ape = vec(b + "attn_compressor_ape.weight");
        L.comp_norm = vec(b + "attn_compressor_norm.weight");
      }
      if (c.layer_has_indexer(il)) {
        L.idx_q_b = matrix(b + "indexer.attn_q_b.weight");
        L.idx_proj = matrix(b + "indexer.proj.weight");
        L.idx_comp_kv = matrix(b + "indexer_compressor_kv.weight");
        L.idx_comp_gate = matrix(b + "indexer_compressor_gate.weight");
        L.idx_comp_ape = vec(b + "indexer_compressor_ape.weight");
        L.idx_comp_norm = vec(b + "indexer_compressor_norm.weight");
      }
    } else if (c.is_mla()) {
      if (c.q_lora_rank > 0) {
        L.wq_a = matrix(b + "attn_q_a.weight");
        L.q_a_norm = vec(b + "attn_q_a_norm.weight");
        L.wq_b = matrix(b + "attn_q_b.weight");
      } else {
        L.wq = matrix(b + "attn_q.weight");
      }
      L.wkv_a_mqa = matrix(b + "attn_kv_a_mqa.weight");
      L.kv_a_norm = vec(b + "attn_kv_a_norm.weight");
      if (c.mla_split_kv_b) {
        L.wk_b = experts(b + "attn_k_b.weight");
        L.wv_b = experts(b + "attn_v_b.weight");
      } else {
        L.wkv_b = matrix(b + "attn_kv_b.weight");
      }
    } else {
      L.wq = matrix(b + "attn_q.weight");
      L.wk = matrix(b + "attn_k.weight");
      L.wv = matrix(b + "attn_v.weight");
      if (c.attn_bias) {
        L.bq = vec(b + "attn_q.bias");
        L.bk = vec(b + "attn_k.bias");
        L.bv = vec(b + "attn_v.bias");
      }
      if (c.qk_norm == QkNorm::kPerHead || c.qk_norm == QkNorm::kWhole) {
        L.q_norm = vec(b + "attn_q_norm.weight");
        L.k_norm = vec(b + "attn_k_norm.weight");
      }
    }
    if (!c.layer_is_recurrent(il) && !c.has_hyper_connections()) L.wo = matrix(b + "attn_output.weight");
    if (c.attn_out_bias) L.bo = vec(b + "attn_output.bias");
    if (c.attn_sinks) L.sinks = vec(b + "attn_sinks.weight");
    L.ffn_norm = vec(b + c.ffn_norm_name + ".weight");
    if (c.layer_is_moe(il)) {
      L.router = matrix(b + "ffn_gate_inp.weight");
      if (c.router_bias) L.router_bias = vec(b + "ffn_gate_inp.bias");
      if (c.expert_bias) {
        L.gate_exps_b = vec(b + "ffn_gate_exps.bias");
        L.up_exps_b = vec(b + "ffn_up_exps.bias");
        L.down_exps_b = vec(b + "ffn_down_exps.bias");
      }
      if (c.expert_score_bias && !c.layer_is_hashed(il)) L.expert_score_bias = vec(b + "exp_probs_b.bias");
      if (c.layer_is_hashed(il))
        L.tid2eid = reinterpret_cast<const int32_t*>(info(b + "ffn_gate_tid2eid.weight").data);
      L.gate_exps = experts(b + "ffn_gate_exps.weight");
      L.up_exps = experts(b + "ffn_up_exps.weight");
      L.down_exps = experts(b + "ffn_down_exps.weight");
      if (c.n_ff_shexp > 0) {
        if (c.shared_expert_gate) L.shexp_gate = vec(b + "ffn_gate_inp_shexp.weight");
        L.gate_shexp = matrix(b + "ffn_gate_shexp.weight");
        L.up_shexp = matrix(b + "ffn_up_shexp.weight");
        L.down_shexp = matrix(b + "ffn_down_shexp.weight");
      }
    } else {
      L.ffn_gate = matrix(b + "ffn_gate.weight");
      L.ffn_up = matrix(b + "ffn_up.weight");
      L.ffn_down = matrix(b + "ffn_down.weight");
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
