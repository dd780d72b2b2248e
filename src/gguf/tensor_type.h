// The tensor type ids of the GGUF format (ggml's type enum) with their block
// geometry. This is a fact of the file format, so it lives with the reader:
// every layer above sizes tensors from this one table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace frugal {

enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
  // frugal's row-interleaved layouts of Q5_0, Q8_0, Q4_K, Q5_K and Q6_K
  // (quant/repack.h): ids outside ggml's and its forks' ranges, so other
  // engines refuse such files. Q5_K's and Q6_K's layouts changed once (a
  // sub-block's bits together): their first ids, 1013 and 1014, are
  // refused with kRetiredRepackedIds' advice.
  Q5_0_R16 = 1006, Q8_0_R16 = 1008, Q4_K_R16 = 1012, Q5_K_R16 = 1113, Q6_K_R16 = 1114,
};
// Ids of earlier frugal layouts that no kernel reads any more.
inline constexpr uint32_t kRetiredRepackedIds[] = {1013, 1014};

struct TensorTypeInfo {
  TensorType type;
  const char* name;      // lower case, as ggml and llama.cpp print it: "q4_k"
  uint32_t block_size;   // elements per block
  uint32_t block_bytes;  // bytes per block
};

// Known types only; nullopt for an id that is not (or no longer) a type.
std::optional<TensorTypeInfo> tensor_type_info(uint32_t id);
const TensorTypeInfo& tensor_type_info(TensorType t);
const char* tensor_type_name(TensorType t);
// Parses "q4_k", "Q4_K", "f16", ...; nullopt if unknown.
std::optional<TensorType> parse_tensor_type(std::string_view name);

// Bytes of one row of n elements; throws frugal::Error when n is not a
// multiple of the type's block size.
size_t row_bytes(TensorType t, uint64_t n);

}  // namespace frugal
