// requantize_file: plan the type of every tensor first (so a bad type or
// tensor fails before any output is written), then let the writer pull each
// tensor's bytes, converting rows in parallel.
#include "quant/requantize.h"

#include <cstring>

#include "base/error.h"
#include "base/thread_pool.h"
#include "gguf/reader.h"
#include "gguf/summary.h"
#include "gguf/tensor_names.h"
#include "gguf/writer.h"
#include "quant/quant.h"
#include "quant/recipe.h"
#include "quant/repack.h"
#include "gguf/pre_tokenizer_name.h"

namespace frugal::quant {
namespace {

bool is_float(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// Converts the rows of one tensor from `from` to `to`. Each thread copies a
// source row into its own aligned buffer first: a file's tensor data need not
// be aligned to the block's fields. `importance` (empty, or one vector of n
// per matrix of a stack, each possibly empty) weights the rows' searches.
void convert_rows(TensorType from, TensorType to, const uint8_t* src, uint8_t* dst, int64_t rows, int64_t n,
                  const std::vector<std::vector<float>>& importance) {
  const int64_t rows_per_mat = importance.empty() ? rows : rows / static_cast<int64_t>(importance.size());
  const size_t rb_in = row_bytes(from, static_cast<uint64_t>(n));
  const size_t rb_out = row_bytes(to, static_cast<uint64_t>(n));
  ThreadPool::global().parallel_for(rows, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<uint64_t> raw((rb_in + 7) / 8);
    std::vector<float> values(static_cast<size_t>(n));
    for (int64_t r = begin; r < end; ++r) {
      if (interleaved_rows(from) > 1) {  // a repacked input: its row read back from its group
        dequantize_matrix_row(from, src, r, n, values.data());
      } else {
        std::memcpy(raw.data(), src + r * rb_in, rb_in);
        dequantize_row(from, raw.data(), values.data(), n);
      }
      const std::vector<float>* imp = importance.empty() ? nullptr : &importance[static_cast<size_t>(r / rows_per_mat)];
      quantize_row(to, values.data(), dst + r * rb_out, n, imp && !imp->empty() ? imp->data() : nullptr);
    }
  });
}

// The weights the scale searches of type `to` get from a matrix's mean
// squared input activations: each column's own, plus, for the coarsest
// grids (Q2_K's four levels with a min, IQ1's -1/0/+1), the matrix's mean
// over its columns. The calibration text's statistics are an estimate: a
// column it barely activated (in this project's trained model, ffn_down
// inputs span 1e-3 to 30 times their mean, and a rarely chosen expert sees
// few tokens) is not worthless on other text, yet with the raw statistics
// such a grid fits the few large columns of each group and leaves the
// others anywhere. With the floor a column weighs at least half an average
// one. Measured on the bundled model (KL divergence from F32,
// docs/QUANTIZATION.md): Q2_K 0.0458 without an imatrix, 0.0475 with the raw
// statistics, 0.0456 with the floor; the finer grids lose by it (IQ3_XXS
// 0.0212 raw, 0.0226 with the floor), so they keep the raw statistics.
std::vector<float> search_weights(std::vector<float> mean_square, TensorType to) {
  const bool coarse = to == TensorType::Q2_K || to == TensorType::IQ1_S || to == TensorType::IQ1_M;
  if (mean_square.empty() || !coarse) return mean_square;
  double sum = 0;
  for (float v : mean_square) sum += v;
  const auto floor = static_cast<float>(sum / static_cast<double>(mean_square.size()));
  for (float& v : mean_square) v += floor;
  return mean_square;
}

}  // namespace

RequantizeSummary requantize_file(const std::string& in_path, const std::string& out_path,
                                  const RequantizeOptions& options) {
  RequantizeSummary summary;
  summary.file_type = file_type_code(options.recipe_or_type);
  const gguf::Reader reader = gguf::Reader::open(in_path);
  const std::string arch = reader.architecture();
  const int n_layer = arch.empty() ? 0 : static_cast<int>(reader.metadata().get_uint_or(arch + ".block_count", 0));

  gguf::Writer writer(reader.alignment());
  for (const auto& [key, value] : reader.metadata().entries()) writer.set(key, value);
  // A file naming frugal's "default" split is written with the name other
  // engines read as the same split (gguf/pre_tokenizer_name.h).
  if (reader.metadata().has("tokenizer.ggml.pre")) {
    const std::string pre = reader.metadata().get_string("tokenizer.ggml.pre");
    writer.set("tokenizer.ggml.pre", gguf::Value::make_string(gguf::pre_tokenizer_name_for_file(pre)));
  }
  writer.set("general.file_type", gguf::Value::make_u32(summary.file_type));

  const bool tied_output = reader.find_tensor(gguf::tensor_name(gguf::TensorId::kOutput)) == nullptr;
  // Routed experts: the architecture's expert count, or stacked expert tensors.
  bool moe = !arch.empty() && reader.metadata().get_uint_or(arch + ".expert_count", 0) > 0;
  for (const gguf::TensorInfo& t : reader.tensors()) moe = moe || gguf::is_expert_tensor(t.name);
  uint32_t imatrix_used = 0;  // tensors quantised with importance
  bool any_quantized = false;
  for (const gguf::TensorInfo& t : reader.tensors()) {
    std::vector<int64_t> shape(t.shape.begin(), t.shape.end());
    TensorTypeChoice choice;
    if (!can_dequantize(base_type(t.type))) {
      choice = {t.type, "copied: no dequantiser for " + std::string(tensor_type_name(t.type))};
    } else if (options.keep_quantized && !is_float(t.type)) {
      choice = {t.type, "copied: --keep-types"};
    } else {
      choice = choose_type(options.recipe_or_type, t.name, shape, n_layer, tied_output, moe);
      if (choice.type == t.type) choice.reason += " (copied)";
    }
    // Rows in 16-row groups (of each expert, for a stack of experts).
    const uint64_t group_rows = t.shape.size() >= 2 ? t.shape[1] : 1;
    const bool repack = options.repack && repacked_type(choice.type) != choice.type && repack_allowed(t.name) &&
                        group_rows % kRepackRows == 0;
    if (repack) {
      choice.type = repacked_type(choice.type);
      choice.reason += ", repacked";
    }
    any_quantized = any_quantized || !is_float(choice.type);
    const uint64_t n = t.shape.empty() ? 1 : t.shape[0];
    const uint64_t out_bytes = row_bytes(choice.type, n) * (t.n_elements / n);
    summary.tensors.push_back({t.name, t.type, choice.type, choice.reason, t.n_bytes, out_bytes, t.n_elements});
    summary.n_elements += t.n_elements;
    summary.bytes_in += t.n_bytes;
    summary.bytes_out += out_bytes;

    const TensorType from = t.type, to = choice.type;
    const uint8_t* src = t.data;
    const int64_t rows = static_cast<int64_t>(t.n_elements / n);
    const TensorType stored = base_type(to);
    std::vector<std::vector<float>> importance;  // per matrix of a stack of experts
    if (options.imatrix && from != stored && !is_float(stored)) {
      const int64_t n_mat = t.shape.size() >= 3 ? static_cast<int64_t>(t.shape[2]) : 1;
      for (int64_t k = 0; k < n_mat; ++k)
        importance.push_back(
            search_weights(options.imatrix->importance(t.name, k, n_mat, static_cast<int64_t>(n)), stored));
      if (!importance[0].empty()) ++imatrix_used;
    }
    writer.add_tensor(t.name, to, t.shape, [=](std::span<uint8_t> out) {
      if (from == to || from == stored) {
        std::memcpy(out.data(), src, out.size());
      } else if (base_type(from) == stored) {  // repacked rows back to their own type: exact
        unpack_rows(from, src, out.data(), rows, static_cast<int64_t>(n));
      } else {
        convert_rows(from, stored, src, out.data(), rows, static_cast<int64_t>(n), importance);
      }
      if (repack) repack_rows(stored, out.data(), out.data(), rows, static_cast<int64_t>(n));
    });
  }
  if (any_quantized) writer.set("general.quantization_version", gguf::Value::make_u32(2));
  if (options.imatrix) {  // the keys llama-quantize writes
    writer.set("quantize.imatrix.file", gguf::Value::make_string(options.imatrix_path));
    writer.set("quantize.imatrix.dataset",
               gguf::Value::make_string(options.imatrix->datasets.empty() ? "" : options.imatrix->datasets[0]));
    writer.set("quantize.imatrix.entries_count", gguf::Value::make_i32(static_cast<int32_t>(imatrix_used)));
    writer.set("quantize.imatrix.chunks_count", gguf::Value::make_i32(static_cast<int32_t>(options.imatrix->chunk_count)));
  }
  writer.write(out_path, options.progress_label);
  return summary;
}

}  // namespace frugal::quant
