// Attention data-parallel's MoE exchange (model/expert_parallel.h): the
// rows of this rank's batch go to the ranks that compute their chosen
// experts, and the experts' outputs come back.
//
// The way there (one all_to_all with counts): for each destination rank q,
// the rows that have at least one expert job on q, in row order, each once,
// as n_embd + 2k floats: its normalised input, the experts q computes for
// it (ids as floats, -1 past the last) and their routing weights (llama4
// scales an expert's input by its weight; the holder does it while
// gathering, as one process does). Every rank groups the rows it received
// by expert and runs each expert once over them all (its grouped kernels,
// as for its own rows).
// The way back (the reverse all_to_all, counts known): for each row
// received, in the order received, one row of n_embd floats per listed
// expert, in listed order: the expert's down output, unweighted and without
// bias. The row's own rank then adds them, weighted, in the fixed job order
// of one process, so the sum has one process's bits.
//
// Bytes per row and MoE layer: (n_embd + 2k) x 4 to each other rank that
// holds one of its experts, and n_embd x 4 back per expert computed there;
// the all-gather of the other mode sends every expert output to all N - 1
// other ranks instead.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/expert_parallel.h"

namespace frugal::model {

// One routed expert job over rows of this rank's batch (one copy of a
// replicated expert: the rows the copy on `rank` computes).
struct RoutedJob {
  int64_t expert = 0;
  int rank = 0;                    // the rank that computes it
  const int64_t* rows = nullptr;   // rows of this rank's batch
  const float* weights = nullptr;  // their routing weights for the expert
  int64_t n_rows = 0;
};

// The rows received for one expert this rank computes: indices into the
// received inputs, in the order received, and their routing weights.
struct ExpertWork {
  int64_t expert = 0;
  std::vector<int64_t> rows;
  std::vector<float> weights;
};

// Computes every expert of `work` over its rows of x (n_x rows of n_embd):
// outputs job after job in the order of `work`, each job's rows in order,
// n_embd floats each, down(gated unit) without weight or bias.
using ComputeExperts =
    std::function<void(const float* x, int64_t n_x, std::span<const ExpertWork> work, float* outputs)>;

// The exchange of one MoE layer; every rank calls it, with or without rows.
// xn: this rank's n_rows normalised rows (n_embd each); k: experts per row.
// Returns the jobs' down outputs, job after job in the order of `jobs`,
// each job's rows in order (n_embd floats each).
std::vector<float> exchange_expert_rows(ExpertParallel& ep, int64_t layer, std::span<const RoutedJob> jobs,
                                        const float* xn, int64_t n_rows, int64_t n_embd, int64_t k,
                                        const ComputeExperts& compute);

}  // namespace frugal::model
