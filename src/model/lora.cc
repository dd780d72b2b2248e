// Loading, applying and merging LoRA adapters (see lora.h).
#include "model/lora.h"

#include <algorithm>
#include <map>

#include "base/error.h"
#include "gguf/writer.h"
#include "kernels/glu.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "quant/quant.h"

namespace frugal::model {

namespace {

constexpr std::string_view kSuffixA = ".lora_a", kSuffixB = ".lora_b";

// The adaptable matrices of one layer: the tensor and its field.
struct LoraTarget {
  TensorId id;
  LoraPair LayerLora::*pair = nullptr;
  kernels::WeightMatrix LayerWeights::*weight = nullptr;
  // Or an expert stack.
  LoraStack LayerLora::*stack = nullptr;
  ExpertStack LayerWeights::*experts = nullptr;
  bool present(const LayerWeights& L) const {
    return weight ? (L.*weight).data != nullptr : (L.*experts).data != nullptr;
  }
};
constexpr LoraTarget kTargets[] = {
    {.id = TensorId::kAttnQ, .pair = &LayerLora::wq, .weight = &LayerWeights::wq},
    {.id = TensorId::kAttnK, .pair = &LayerLora::wk, .weight = &LayerWeights::wk},
    {.id = TensorId::kAttnV, .pair = &LayerLora::wv, .weight = &LayerWeights::wv},
    {.id = TensorId::kAttnOutput, .pair = &LayerLora::wo, .weight = &LayerWeights::wo},
    {.id = TensorId::kAttnQA, .pair = &LayerLora::wq_a, .weight = &LayerWeights::wq_a},
    {.id = TensorId::kAttnQB, .pair = &LayerLora::wq_b, .weight = &LayerWeights::wq_b},
    {.id = TensorId::kAttnKvAMqa, .pair = &LayerLora::wkv_a, .weight = &LayerWeights::wkv_a_mqa},
    {.id = TensorId::kAttnKvB, .pair = &LayerLora::wkv_b, .weight = &LayerWeights::wkv_b},
    {.id = TensorId::kAttnKB, .stack = &LayerLora::wk_b, .experts = &LayerWeights::wk_b},
    {.id = TensorId::kAttnVB, .stack = &LayerLora::wv_b, .experts = &LayerWeights::wv_b},
    {.id = TensorId::kAttnKv, .pair = &LayerLora::wkv, .weight = &LayerWeights::wkv},
    {.id = TensorId::kAttnOutputA, .pair = &LayerLora::wo_a, .weight = &LayerWeights::wo_a},
    {.id = TensorId::kAttnOutputB, .pair = &LayerLora::wo_b, .weight = &LayerWeights::wo_b},
    {.id = TensorId::kSsmIn, .pair = &LayerLora::ssm_in, .weight = &LayerWeights::ssm_in},
    {.id = TensorId::kSsmBa, .pair = &LayerLora::ssm_ba, .weight = &LayerWeights::ssm_ba},
    {.id = TensorId::kAttnQkv, .pair = &LayerLora::wqkv, .weight = &LayerWeights::wqkv},
    {.id = TensorId::kAttnGate, .pair = &LayerLora::wgate, .weight = &LayerWeights::wgate},
    {.id = TensorId::kSsmBeta, .pair = &LayerLora::ssm_beta, .weight = &LayerWeights::ssm_beta},
    {.id = TensorId::kSsmAlpha, .pair = &LayerLora::ssm_alpha, .weight = &LayerWeights::ssm_alpha},
    {.id = TensorId::kSsmOut, .pair = &LayerLora::ssm_out, .weight = &LayerWeights::ssm_out},
    {.id = TensorId::kFfnGate, .pair = &LayerLora::ffn_gate, .weight = &LayerWeights::ffn_gate},
    {.id = TensorId::kFfnUp, .pair = &LayerLora::ffn_up, .weight = &LayerWeights::ffn_up},
    {.id = TensorId::kFfnDown, .pair = &LayerLora::ffn_down, .weight = &LayerWeights::ffn_down},
    {.id = TensorId::kFfnGateShexp, .pair = &LayerLora::gate_shexp, .weight = &LayerWeights::gate_shexp},
    {.id = TensorId::kFfnUpShexp, .pair = &LayerLora::up_shexp, .weight = &LayerWeights::up_shexp},
    {.id = TensorId::kFfnDownShexp, .pair = &LayerLora::down_shexp, .weight = &LayerWeights::down_shexp},
    {.id = TensorId::kFfnGateInp, .pair = &LayerLora::router, .weight = &LayerWeights::router},
    {.id = TensorId::kFfnGateExps, .stack = &LayerLora::gate_exps, .experts = &LayerWeights::gate_exps},
    {.id = TensorId::kFfnUpExps, .stack = &LayerLora::up_exps, .experts = &LayerWeights::up_exps},
    {.id = TensorId::kFfnDownExps, .stack = &LayerLora::down_exps, .experts = &LayerWeights::down_exps},
};

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string base_name(int64_t layer, const LoraTarget& t) { return gguf::tensor_name(t.id, layer); }

// The first 2-D slice of a factor (expert 0's, for a 3-D one).
kernels::WeightMatrix as_matrix(const gguf::TensorInfo& t) {
  return {t.type, t.data, static_cast<int64_t>(t.shape[1]), static_cast<int64_t>(t.shape[0])};
}

}  // namespace

std::unique_ptr<LoraAdapter> LoraAdapter::load(const std::string& path, const Model& base, float user_scale) {
  return from_reader(gguf::Reader::open(path), base, user_scale);
}

std::unique_ptr<LoraAdapter> LoraAdapter::from_reader(gguf::Reader file, const Model& base, float user_scale) {
  std::unique_ptr<LoraAdapter> ad(new LoraAdapter(std::move(file)));
  const gguf::Reader& f = ad->file_;
  const gguf::Metadata& md = f.metadata();
  const std::string& p = f.path();
  if (md.get_string_or("general.type", "") != "adapter")
    fail(p, ": not an adapter (general.type is '", md.get_string_or("general.type", ""), "', expected 'adapter')");
  if (md.get_string_or("adapter.type", "") != "lora")
    fail(p, ": not a LoRA adapter (adapter.type is '", md.get_string_or("adapter.type", ""), "', expected 'lora')");
  const std::string arch = md.get_string_or("general.architecture", "");
  if (!arch.empty() && arch != base.config().arch)
    fail(p, ": adapter is for architecture '", arch, "', the model is '", base.config().arch, "'");
  ad->alpha_ = static_cast<float>(md.get_float_or("adapter.lora.alpha", 0.0));

  const int64_t n_layer = base.config().n_layer;
  std::map<std::string, std::pair<const LoraTarget*, int64_t>, std::less<>> by_name;
  const ModelConfig& c = base.config();
  const LoraTarget& qkv_target = *std::find_if(std::begin(kTargets), std::end(kTargets),
                                               [](const LoraTarget& t) { return t.id == TensorId::kAttnQkv; });
  // A fused attention's attn_qkv is read as three products (model.cc): its
  // adapter is split into theirs below.
  auto fused = [&](int64_t il) { return c.fused_qkv && !c.layer_is_recurrent(il); };
  for (int64_t il = 0; il < n_layer; ++il) {
    for (const LoraTarget& t : kTargets)
      if (t.present(base.weights().layers[static_cast<size_t>(il)]) &&
          !(fused(il) && (t.id == TensorId::kAttnQ || t.id == TensorId::kAttnK || t.id == TensorId::kAttnV)))
        by_name[base_name(il, t)] = {&t, il};
    if (fused(il)) by_name[base_name(il, qkv_target)] = {&qkv_target, il};
  }

  ad->layers_.resize(static_cast<size_t>(n_layer));
  std::map<std::string, int, std::less<>> seen;  // base name -> 1 (a), 2 (b), 3 (both)
  for (const gguf::TensorInfo& t : f.tensors()) {
    const bool is_a = ends_with(t.name, kSuffixA);
    if (!is_a && !ends_with(t.name, kSuffixB))
      fail(p, ": tensor '", t.name, "' is not a LoRA factor (names end in .lora_a or .lora_b)");
    const std::string target = t.name.substr(0, t.name.size() - kSuffixA.size());
    const auto it = by_name.find(target);
    if (it == by_name.end())
      fail(p, ": tensor '", t.name, "' adapts '", target, "', which this model has not or frugal cannot adapt ",
           "(supported: attn_q, attn_k, attn_v, attn_output, latent attention's attn_q_a, attn_q_b, attn_kv_a_mqa, ",
           "attn_kv_b, attn_k_b and attn_v_b, deepseek4's attn_kv, attn_output_a and attn_output_b, ",
           "Gated DeltaNet's ssm_in, ssm_ba, attn_qkv, attn_gate, ssm_beta, ",
           "ssm_alpha and ssm_out, the dense ffn_gate/up/down, the shared experts' ",
           "ffn_gate/up/down_shexp, the routed experts' ffn_gate/up/down_exps and the router's ffn_gate_inp)");
    if (t.type != TensorType::F32 && t.type != TensorType::F16)
      fail(p, ": tensor '", t.name, "' is ", tensor_type_name(t.type), "; LoRA factors must be f32 or f16");
    const LoraTarget& lt = *it->second.first;
    const gguf::TensorInfo& w = base.file().tensor(target);
    if (t.shape.size() != w.shape.size())
      fail(p, ": tensor '", t.name, "' has ", t.shape.size(), " dimensions, its base '", target, "' ", w.shape.size());
    const int64_t n_in = static_cast<int64_t>(w.shape[0]), n_out = static_cast<int64_t>(w.shape[1]);
    const int64_t rank = static_cast<int64_t>(is_a ? t.shape[1] : t.shape[0]);
    const int64_t want0 = is_a ? n_in : rank, want1 = is_a ? rank : n_out;
    if (rank <= 0 || static_cast<int64_t>(t.shape[0]) != want0 || static_cast<int64_t>(t.shape[1]) != want1 ||
        (w.shape.size() == 3 && t.shape[2] != w.shape[2]))
      fail(p, ": tensor '", t.name, "' has shape ", shape_text(t.shape), ", expected ",
           shape_text(w.shape.size() == 3 ? std::vector<uint64_t>{uint64_t(want0), uint64_t(want1), w.shape[2]}
                                           : std::vector<uint64_t>{uint64_t(want0), uint64_t(want1)}),
           " for base '", target, "' of shape ", shape_text(w.shape));
    if (ad->rank_ == 0) ad->rank_ = rank;
    if (rank != ad->rank_) fail(p, ": tensor '", t.name, "' has rank ", rank, ", others ", ad->rank_);
    LayerLora& LL = ad->layers_[static_cast<size_t>(it->second.second)];
    if (lt.stack) {
      LoraStack& st = LL.*lt.stack;
      (is_a ? st.first.a : st.first.b) = as_matrix(t);
      (is_a ? st.a_bytes : st.b_bytes) = row_bytes(t.type, t.shape[0]) * t.shape[1];
    } else {
      (is_a ? (LL.*lt.pair).a : (LL.*lt.pair).b) = as_matrix(t);
    }
    int& s = seen[target];
    if (s & (is_a ? 1 : 2)) fail(p, ": tensor '", t.name, "' appears twice");
    s |= is_a ? 1 : 2;
    if (s == 3) ad->targets_.push_back(target);
  }
  for (const auto& [name, s] : seen)
    if (s != 3) fail(p, ": '", name, "' has a ", s == 1 ? ".lora_a" : ".lora_b", " tensor but not its pair");
  if (ad->rank_ == 0) fail(p, ": the adapter has no tensors");
  // Each of q, k and v: A x shared, its rows of B.
  for (int64_t il = 0; il < n_layer; ++il) {
    LayerLora& LL = ad->layers_[static_cast<size_t>(il)];
    if (!fused(il) || !LL.wqkv) continue;
    auto rows = [&](int64_t first, int64_t n) { return lora_rows(LL.wqkv, first, n); };
    LL.wq = rows(0, c.n_embd_q());
    LL.wk = rows(c.n_embd_q(), c.n_embd_k());
    LL.wv = rows(c.n_embd_q() + c.n_embd_k(), c.n_embd_v());
    LL.wqkv = LoraPair{};
  }
  ad->scale_ = ad->alpha_ != 0 ? user_scale * ad->alpha_ / static_cast<float>(ad->rank_) : user_scale;
  return ad;
}

LoraPair lora_rows(const LoraPair& p, int64_t first, int64_t n) {
  LoraPair part = p;
  part.b.data = static_cast<const uint8_t*>(part.b.data) +
                static_cast<size_t>(first) * row_bytes(part.b.type, static_cast<uint64_t>(part.b.n_in));
  part.b.n_out = n;
  return part;
}

void lora_apply(const LoraPair& p, float scale, const float* x, int64_t ldx, int64_t n_rows, float* y, int64_t ldy,
                ThreadPool* pool) {
  const int64_t rank = p.a.n_out, n_out = p.b.n_out;
  std::vector<float> ax(static_cast<size_t>(n_rows * rank)), d(static_cast<size_t>(n_rows * n_out));
  kernels::matmul(p.a, x, ldx, n_rows, ax.data(), rank, pool);
  kernels::matmul(p.b, ax.data(), rank, n_rows, d.data(), n_out, pool);
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t i = 0; i < n_out; ++i) y[r * ldy + i] += scale * d[static_cast<size_t>(r * n_out + i)];
}

void lora_swiglu(const kernels::WeightMatrix& gate, const kernels::WeightMatrix& up, const kernels::WeightMatrix& down,
                 const LoraPair& lora_gate, const LoraPair& lora_up, const LoraPair& lora_down, float scale,
                 const float* x, int64_t n_rows, const float* weights, float* out, ThreadPool* pool,
                 const kernels::GluOptions& glu, const float* down_bias) {
  const int64_t d = gate.n_in, ff = gate.n_out, d_out = down.n_out;
  std::vector<float> g(static_cast<size_t>(n_rows * ff)), u(g.size()), y(static_cast<size_t>(n_rows * d_out));
  kernels::matmul(gate, x, d, n_rows, g.data(), ff, pool);
  kernels::matmul(up, x, d, n_rows, u.data(), ff, pool);
  if (lora_gate) lora_apply(lora_gate, scale, x, d, n_rows, g.data(), ff, pool);
  if (lora_up) lora_apply(lora_up, scale, x, d, n_rows, u.data(), ff, pool);
  for (int64_t r = 0; r < n_rows; ++r) kernels::glu_row(g.data() + r * ff, u.data() + r * ff, 0, ff, glu);
  kernels::matmul(down, g.data(), ff, n_rows, y.data(), d_out, pool);
  if (lora_down) lora_apply(lora_down, scale, g.data(), ff, n_rows, y.data(), d_out, pool);
  for (int64_t r = 0; r < n_rows; ++r) {
    const float w = weights ? weights[r] : 1.0f;
    if (down_bias) {
      kernels::add_scaled_biased(w, y.data() + r * d_out, down_bias, out + r * d_out, d_out);
    } else {
      kernels::axpy(w, y.data() + r * d_out, out + r * d_out, d_out);
    }
  }
}

void write_lora_adapter(const std::string& path, const std::string& arch, float alpha, int64_t rank,
                        const std::vector<LoraFactors>& factors) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::make_string(arch));
  w.set("general.type", gguf::Value::make_string("adapter"));
  w.set("adapter.type", gguf::Value::make_string("lora"));
  w.set("adapter.lora.alpha", gguf::Value::make_f32(alpha));
  const uint64_t r = static_cast<uint64_t>(rank);
  for (const LoraFactors& f : factors) {
    const uint64_t n_in = static_cast<uint64_t>(f.n_in), n_out = static_cast<uint64_t>(f.n_out);
    const uint64_t ne = static_cast<uint64_t>(std::max<int64_t>(1, f.n_expert));
    FRUGAL_CHECK(f.a.size() == ne * r * n_in && f.b.size() == ne * n_out * r);
    std::vector<uint64_t> shape_a{n_in, r}, shape_b{r, n_out};
    if (f.n_expert > 0) {
      shape_a.push_back(ne);
      shape_b.push_back(ne);
    }
    w.add_tensor_data(f.target + std::string(kSuffixA), TensorType::F32, shape_a, f.a.data());
    w.add_tensor_data(f.target + std::string(kSuffixB), TensorType::F32, shape_b, f.b.data());
  }
  w.write(path);
}

void merge_lora(const Model& base, const LoraAdapter& adapter, const std::string& out_path) {
  const gguf::Reader& bf = base.file();
  gguf::Writer w(bf.alignment());
  for (const auto& [key, value] : bf.metadata().entries())
    if (key != "general.alignment") w.set(key, value);
  const std::vector<std::string>& targets = adapter.targets();
  for (const gguf::TensorInfo& t : bf.tensors()) {
    if (std::find(targets.begin(), targets.end(), t.name) == targets.end()) {
      w.add_tensor_data(t.name, t.type, t.shape, t.data);
      continue;
    }
    const gguf::TensorInfo& ta = adapter.file().tensor(t.name + std::string(kSuffixA));
    const gguf::TensorInfo& tb = adapter.file().tensor(t.name + std::string(kSuffixB));
    // An expert stack is n_expert matrices of n_per rows, expert e's factors
    // at e * rank * n_in (a) and rows e * n_per... of b: b's row o is W's row o.
    const int64_t n_in = static_cast<int64_t>(t.shape[0]), n_out = static_cast<int64_t>(t.rows());
    const int64_t n_per = static_cast<int64_t>(t.shape[1]);
    const int64_t rank = adapter.rank();
    const float scale = adapter.scale();
    auto merged = [&t, &ta, &tb, n_in, n_out, n_per, rank, scale](std::span<uint8_t> out) {
      float* m = reinterpret_cast<float*>(out.data());
      const int64_t n_expert = n_out / n_per;
      std::vector<float> a(static_cast<size_t>(n_expert * rank * n_in)), b(static_cast<size_t>(n_out * rank));
      quant::dequantize_rows(ta.type, ta.data, a.data(), n_expert * rank, n_in);
      quant::dequantize_rows(tb.type, tb.data, b.data(), n_out, rank);
      // One row of W at a time, so the base is never held whole in f32 twice.
      for (int64_t o = 0; o < n_out; ++o) {
        float* row = m + o * n_in;
        quant::dequantize_row(t.type, t.data + static_cast<size_t>(o) * row_bytes(t.type, n_in), row, n_in);
        for (int64_t k = 0; k < rank; ++k) {
          const float s = scale * b[static_cast<size_t>(o * rank + k)];
          const float* ak = a.data() + ((o / n_per) * rank + k) * n_in;
          for (int64_t i = 0; i < n_in; ++i) row[i] += s * ak[i];
        }
      }
    };
    w.add_tensor(t.name, TensorType::F32, t.shape, merged);
  }
  w.write(out_path);
}

}  // namespace frugal::model
