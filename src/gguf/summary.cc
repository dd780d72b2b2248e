#include "gguf/summary.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/error.h"
#include "gguf/tensor_names.h"

namespace frugal::gguf {

namespace {
// x * num / den without overflow (num <= den, so the result fits).
uint64_t scale(uint64_t x, uint64_t num, uint64_t den) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(x) * num / den);
}
}  // namespace

FileSummary summarize(const Reader& file) {
  FileSummary s;
  s.architecture = file.architecture();
  const Metadata& md = file.metadata();
  if (!s.architecture.empty()) {
    s.expert_count = md.get_uint_or(s.architecture + ".expert_count", 0);
    s.expert_used_count = md.get_uint_or(s.architecture + ".expert_used_count", 0);
  }
  s.moe = s.expert_count > 0;
  if (s.moe && (s.expert_used_count == 0 || s.expert_used_count > s.expert_count))
    fail(file.path(), ": ", s.architecture, ".expert_used_count is ", s.expert_used_count, " with ", s.expert_count,
         " experts; expected 1 to ", s.expert_count);
  s.tied_output = file.find_tensor(tensor_name(TensorId::kOutput)) == nullptr;
  // Blocks from here on are next-token-prediction heads (none: past any block).
  int64_t first_nextn = int64_t{1} << 62;
  if (!s.architecture.empty()) {
    const uint64_t nextn = md.get_uint_or(s.architecture + ".nextn_predict_layers", 0);
    const uint64_t blocks = md.get_uint_or(s.architecture + ".block_count", 0);
    if (nextn > 0 && nextn <= blocks) first_nextn = static_cast<int64_t>(blocks - nextn);
  }

  std::map<TensorType, TypeTotals> by_type;
  for (const auto& t : file.tensors()) {
    // Integer tensors are lookup tables (deepseek4's expert ids per token),
    // not parameters: one row is read per token.
    const bool table = t.type == TensorType::I8 || t.type == TensorType::I16 || t.type == TensorType::I32 ||
                       t.type == TensorType::I64;
    ++s.tensors;
    if (!table) s.parameters += t.n_elements;
    s.bytes += t.n_bytes;
    auto& tt = by_type[t.type];
    tt.type = t.type;
    ++tt.tensors;
    if (!table) tt.parameters += t.n_elements;
    tt.bytes += t.n_bytes;
    if (table) {
      s.bytes_per_token += t.n_bytes / std::max<uint64_t>(1, t.rows());
      continue;
    }

    if (tensor_block(t.name) >= first_nextn) {
      s.nextn_parameters += t.n_elements;
      continue;
    }
    if (s.moe && is_expert_tensor(t.name)) {
      s.expert_parameters += t.n_elements;
      s.expert_bytes += t.n_bytes;
      s.active_parameters += scale(t.n_elements, s.expert_used_count, s.expert_count);
      s.bytes_per_token += scale(t.n_bytes, s.expert_used_count, s.expert_count);
      continue;
    }
    s.active_parameters += t.n_elements;
    if (is_tensor(t.name, TensorId::kTokenEmbd) && !s.tied_output)
      s.bytes_per_token += t.n_bytes / t.rows();  // one row looked up per token
    else
      s.bytes_per_token += t.n_bytes;
  }
  for (const auto& [type, tt] : by_type) s.by_type.push_back(tt);
  std::stable_sort(s.by_type.begin(), s.by_type.end(), [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return s;
}

double weight_bytes_per_step(const FileSummary& s, int batch) {
  if (batch <= 0) return 0;
  if (!s.moe || s.expert_count == 0) return static_cast<double>(s.bytes_per_token);
  const double share = static_cast<double>(s.expert_used_count) / static_cast<double>(s.expert_count);
  const double expert_per_token = static_cast<double>(s.expert_bytes) * share;
  const double others = static_cast<double>(s.bytes_per_token) - expert_per_token;
  return others + static_cast<double>(s.expert_bytes) * (1.0 - std::pow(1.0 - share, batch));
}

}  // namespace frugal::gguf
