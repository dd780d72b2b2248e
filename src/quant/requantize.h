// Re-encodes every tensor of a GGUF model to the types a recipe or plain
// type chooses (dequantise -> quantise), copying all metadata and setting
// general.file_type. The output streams through the GGUF writer one tensor at
// a time: memory holds one output tensor and one row per thread, never the
// model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "quant/imatrix_file.h"

namespace frugal::quant {

struct RequantizeOptions {
  std::string recipe_or_type;           // "q4_k_m", "q8_0", "f16", ...
  bool keep_quantized = false;          // tensors stored quantised already are copied as they are
  // Store the matrices of types with a row-interleaved layout (Q4_K, Q6_K)
  // in it (quant/repack.h): files only frugal reads, loaded with no repacking.
  bool repack = false;
  std::string progress_label = "quantize";  // empty: no progress bar
  // Importance statistics (may be null): each matrix's mean squared input
  // activations weight the scale searches of the types that search (k-quants,
  // IQ types); tensors without an entry quantise as without.
  const Imatrix* imatrix = nullptr;
  std::string imatrix_path;  // recorded in the output's quantize.imatrix.file
};

struct RequantizedTensor {
  std::string name;
  TensorType from, to;
  std::string reason;  // why `to` (from choose_type, or "copied")
  uint64_t bytes_in, bytes_out;
  uint64_t n_elements;
};

struct RequantizeSummary {
  std::vector<RequantizedTensor> tensors;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t n_elements = 0;  // of all tensors: 8 bytes_out / n_elements is the file's bits per weight
  uint32_t file_type = 0;
};

RequantizeSummary requantize_file(const std::string& in_path, const std::string& out_path,
                                  const RequantizeOptions& options);

}  // namespace frugal::quant
