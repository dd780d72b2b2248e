// The one table of the tensor types the CUDA backend reads: each GGUF type
// with the block struct its kernels are instantiated for (block_decode.h).
// The kernels' dispatch (kernels.cu), the tests and the benchmark all go
// through it, so a type added here is dispatched, tested and measured.
#pragma once
#include <array>
#include <span>
#include <type_traits>

#include "cuda/block_decode.h"
#include "gguf/tensor_type.h"

namespace frugal::cuda {

template <TensorType T, class B>
struct TypeEntry {
  static constexpr TensorType type = T;
  using Block = B;
};

template <class... Entries>
struct TypeTable {
  static constexpr std::array<TensorType, sizeof...(Entries)> types{Entries::type...};
  // Calls f(std::type_identity<Block>{}) for type t; false when t is not in the table.
  template <class F>
  static bool visit(TensorType t, F&& f) {
    return ((t == Entries::type && (f(std::type_identity<typename Entries::Block>{}), true)) || ...);
  }
};

using BlockTypes = TypeTable<
    TypeEntry<TensorType::F32, RowF32>, TypeEntry<TensorType::F16, RowF16>,
    TypeEntry<TensorType::BF16, RowBF16>, TypeEntry<TensorType::Q8_0, quant::BlockQ8_0>,
    TypeEntry<TensorType::Q4_K, quant::BlockQ4_K>, TypeEntry<TensorType::Q5_K, quant::BlockQ5_K>,
    TypeEntry<TensorType::Q6_K, quant::BlockQ6_K>, TypeEntry<TensorType::IQ4_XS, quant::BlockIQ4_XS>,
    TypeEntry<TensorType::MXFP4, quant::BlockMXFP4>>;

// Every type of the table, in its order.
inline std::span<const TensorType> block_types() { return BlockTypes::types; }

}  // namespace frugal::cuda
