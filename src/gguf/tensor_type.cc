#include "gguf/tensor_type.h"

#include <algorithm>
#include <cctype>

#include "base/error.h"

namespace frugal {

namespace {
constexpr TensorTypeInfo kTypes[] = {
    {TensorType::F32, "f32", 1, 4},          {TensorType::F16, "f16", 1, 2},
    {TensorType::Q4_0, "q4_0", 32, 18},      {TensorType::Q4_1, "q4_1", 32, 20},
    {TensorType::Q5_0, "q5_0", 32, 22},      {TensorType::Q5_1, "q5_1", 32, 24},
    {TensorType::Q8_0, "q8_0", 32, 34},      {TensorType::Q8_1, "q8_1", 32, 36},
    {TensorType::Q2_K, "q2_k", 256, 84},     {TensorType::Q3_K, "q3_k", 256, 110},
    {TensorType::Q4_K, "q4_k", 256, 144},    {TensorType::Q5_K, "q5_k", 256, 176},
    {TensorType::Q6_K, "q6_k", 256, 210},    {TensorType::Q8_K, "q8_k", 256, 292},
    {TensorType::IQ2_XXS, "iq2_xxs", 256, 66}, {TensorType::IQ2_XS, "iq2_xs", 256, 74},
    {TensorType::IQ3_XXS, "iq3_xxs", 256, 98}, {TensorType::IQ1_S, "iq1_s", 256, 50},
    {TensorType::IQ4_NL, "iq4_nl", 32, 18},  {TensorType::IQ3_S, "iq3_s", 256, 110},
    {TensorType::IQ2_S, "iq2_s", 256, 82},   {TensorType::IQ4_XS, "iq4_xs", 256, 136},
    {TensorType::I8, "i8", 1, 1},            {TensorType::I16, "i16", 1, 2},
    {TensorType::I32, "i32", 1, 4},          {TensorType::I64, "i64", 1, 8},
    {TensorType::F64, "f64", 1, 8},          {TensorType::IQ1_M, "iq1_m", 256, 56},
    {TensorType::BF16, "bf16", 1, 2},        {TensorType::TQ1_0, "tq1_0", 256, 54},
    {TensorType::TQ2_0, "tq2_0", 256, 66},   {TensorType::MXFP4, "mxfp4", 32, 17},
    {TensorType::Q5_0_R16, "q5_0_r16", 32, 22},  {TensorType::Q8_0_R16, "q8_0_r16", 32, 34},
    {TensorType::Q4_K_R16, "q4_k_r16", 256, 144}, {TensorType::Q6_K_R16, "q6_k_r16", 256, 210},
    {TensorType::Q5_K_R16, "q5_k_r16", 256, 176},
};
}  // namespace

std::optional<TensorTypeInfo> tensor_type_info(uint32_t id) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return t;
  return std::nullopt;
}

const TensorTypeInfo& tensor_type_info(TensorType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t;
  fail("unknown tensor type id ", static_cast<uint32_t>(type));
}

const char* tensor_type_name(TensorType t) { return tensor_type_info(t).name; }

std::optional<TensorType> parse_tensor_type(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& t : kTypes)
    if (lower == t.name) return t.type;
  return std::nullopt;
}

size_t row_bytes(TensorType t, uint64_t n) {
  const auto& info = tensor_type_info(t);
  if (n % info.block_size != 0)
    fail("row of ", n, " elements is not a multiple of ", info.block_size, ", the block size of ", info.name);
  return static_cast<size_t>(n / info.block_size) * info.block_bytes;
}

}  // namespace frugal
