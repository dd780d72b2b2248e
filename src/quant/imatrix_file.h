// Importance matrices ("imatrix"): per weight matrix, the sum over the
// calibration text's rows of each input column's squared activation, and
// the number of rows. Stored as llama.cpp stores them, so files move between
// the two tools:
//   GGUF (written and read): general.type "imatrix", imatrix.datasets,
//     imatrix.chunk_count, imatrix.chunk_size; per matrix `<name>.in_sum2`
//     (F32, shape [n_in, n_mat]) and `<name>.counts` (F32, shape [1, n_mat]),
//     n_mat the number of experts of a stacked expert tensor, else 1.
//   legacy .dat (read; written for tests and older tools): i32 entry count;
//     per entry i32 name length, name, i32 count, i32 value count, f32
//     values (the sums, all experts one after the other, sharing the one
//     count); then optionally i32 chunk count, i32 length and dataset name.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace frugal::quant {

struct ImatrixEntry {
  int64_t n_in = 0, n_mat = 1;
  std::vector<float> in_sum2;  // n_mat * n_in, matrix after matrix
  std::vector<float> counts;   // n_mat: rows that reached each matrix
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by weight tensor name
  std::vector<std::string> datasets;
  uint32_t chunk_count = 0, chunk_size = 0;

  // The quantiser's per-column importance for matrix `mat` of tensor `name`
  // (n_in values): the mean squared activation in_sum2 / count. An expert
  // that no row reached gets the mean over the experts that were reached
  // (all columns of a never-used tensor: empty, no importance). Empty when
  // the tensor has no entry; an entry of another shape is an error.
  std::vector<float> importance(const std::string& name, int64_t mat, int64_t n_mat, int64_t n_in) const;
};

void write_imatrix(const Imatrix& m, const std::string& path);
void write_imatrix_legacy(const Imatrix& m, const std::string& path);
// Either format (told apart by the GGUF magic); errors name the file.
Imatrix read_imatrix(const std::string& path);

}  // namespace frugal::quant
