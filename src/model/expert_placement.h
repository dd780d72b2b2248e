// Expert placement for expert-parallel inference (model/expert_parallel.h):
// which ranks compute each routed expert of each MoE layer.
//
// The default gives rank r of N a contiguous block of every layer's experts
// (expert_share). A measured placement balances the rows the ranks compute:
// `frugal placement` counts, per MoE layer, the rows each routed expert
// receives over a calibration text, and balance_layer() assigns the experts
// to ranks so that the busiest rank's rows are as few as it can find
// (longest processing time first, each rank holding the same number of
// experts), after giving the hottest experts extra copies (replicas) on other
// ranks where a replica budget allows, as DeepSeek's EPLB does. A row routed
// to a replicated expert is computed by one of its copies: the rows routed to
// the expert, in routing order, are cut into as many near-equal runs as it
// has copies, run j going to its j-th holder by rank (replica_rows). Every
// rank adds every expert's outputs in the same fixed expert order whatever
// the placement, so logits keep the single process's bits.
//
// The placement file (JSON, docs/DISTRIBUTED.md "Placement by measured
// load") holds the counts and the placement they give at one rank count and
// replica budget; at another rank count the counts are placed again.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace frugal::model {

struct ModelConfig;

// Experts [begin, end) of every MoE layer.
struct ExpertRange {
  int64_t begin = 0, end = 0;
  bool contains(int64_t e) const { return e >= begin && e < end; }
};

// Rank `rank` of `n_ranks` owns a contiguous block of the n_expert experts;
// block sizes differ by at most one (the first n_expert % n_ranks ranks hold
// one more). REQUIRES: 0 <= rank < n_ranks.
ExpertRange expert_share(int64_t n_expert, int rank, int n_ranks);

// Rows of an expert's n that its j-th of `copies` holders computes: the run
// [n j / copies, n (j + 1) / copies) of them in routing order.
inline int64_t replica_begin(int64_t n, int j, int copies) { return n * j / copies; }
inline int64_t replica_rows(int64_t n, int j, int copies) {
  return replica_begin(n, j + 1, copies) - replica_begin(n, j, copies);
}

// One layer's placement: experts[r] lists rank r's experts (ascending).
// An expert on several ranks is replicated.
using LayerAssignment = std::vector<std::vector<int64_t>>;

class ExpertPlacement {
 public:
  ExpertPlacement() = default;
  // Every layer: rank r owns expert_share(n_expert, r, n_ranks).
  static ExpertPlacement contiguous(int64_t n_layer, int64_t n_expert, int n_ranks);
  // layers[il]: layer il's assignment (n_ranks lists; an empty assignment
  // keeps the contiguous default for that layer). frugal::Error when an
  // expert id is out of range, a rank lists an expert twice, or an expert
  // of a listed layer is on no rank.
  static ExpertPlacement from_assignments(int64_t n_expert, int n_ranks, const std::vector<LayerAssignment>& layers);

  int n_ranks() const { return n_ranks_; }
  int64_t n_expert() const { return n_expert_; }
  int64_t n_layer() const { return n_layer_; }
  // Whether every layer is the contiguous default.
  bool is_contiguous() const { return contiguous_; }

  // The ranks holding expert e of layer il, ascending (one for an expert
  // that is not replicated).
  std::span<const int> holders(int64_t il, int64_t e) const {
    const size_t i = static_cast<size_t>(il * n_expert_ + e);
    return {holders_.data() + first_[i], static_cast<size_t>(first_[i + 1] - first_[i])};
  }
  bool holds(int rank, int64_t il, int64_t e) const;
  // Rank `rank`'s experts of layer il, ascending.
  std::vector<int64_t> experts_of(int rank, int64_t il) const;
  LayerAssignment assignment(int64_t il) const;

 private:
  int64_t n_layer_ = 0, n_expert_ = 0;
  int n_ranks_ = 0;
  bool contiguous_ = true;
  std::vector<int64_t> first_;  // (il * n_expert + e) -> start in holders_; one more at the end
  std::vector<int> holders_;
};

// The assignment of one layer whose experts received `rows` rows each, over
// n_ranks ranks with `replicas_per_rank` extra expert copies per rank:
//  1. replication: n_ranks x replicas_per_rank times, the expert with the
//     most rows per copy (held by fewer than n_ranks ranks, rows > 0) gets
//     one more copy;
//  2. packing: every rank gets the same number of slots (the copies divided
//     over the ranks, rounded up); experts in order of rows per copy, most
//     first (ties: lower id), each expert's copies go to the ranks with free
//     slots that have the fewest rows so far (ties: fewer experts, lower
//     rank), one copy a rank.
// REQUIRES: n_ranks >= 1, replicas_per_rank >= 0.
LayerAssignment balance_layer(std::span<const uint64_t> rows, int n_ranks, int replicas_per_rank);

// The contiguous default's assignment of one layer.
LayerAssignment contiguous_layer(int64_t n_expert, int n_ranks);

// Rows each rank computes under an assignment (replicas split by
// replica_rows, holders in rank order).
std::vector<uint64_t> rank_rows(std::span<const uint64_t> rows, const LayerAssignment& a);

// max / mean of per-rank loads (1 for an even spread; 0 when all are 0).
double imbalance(std::span<const uint64_t> loads);

// The placement file.
struct PlacementFile {
  // What was measured.
  std::string model;         // the model file's path as given
  std::string architecture;  // general.architecture
  std::string source;        // what was run (the calibration text's name)
  uint64_t tokens = 0;       // tokens evaluated
  int64_t n_expert = 0, n_expert_used = 0;
  std::vector<int64_t> layers;              // the MoE layers, ascending
  std::vector<std::vector<uint64_t>> rows;  // per entry of `layers`: rows routed to each expert
  // The placement the counts give.
  int n_ranks = 0, replicas_per_rank = 0;
  std::vector<LayerAssignment> placement;  // per entry of `layers`
};

// The measured part of a placement file (architecture, experts, MoE layers
// and their experts' rows) from the rows each routed expert received,
// counts[layer * n_expert + expert] (Engine::expert_rows; empty, or of
// another size, when no MoE layer has run: every row 0). tokens: the first
// MoE layer's rows over n_expert_used.
PlacementFile measured_placement(const ModelConfig& c, std::span<const uint64_t> counts);

// Fills f.placement from f.rows for n_ranks and replicas_per_rank.
void place(PlacementFile& f, int n_ranks, int replicas_per_rank);

std::string placement_json(const PlacementFile& f);
// frugal::Error naming the file and what is wrong with it.
PlacementFile read_placement_file(const std::string& path);
void write_placement_file(const PlacementFile& f, const std::string& path);

// The placement for a model of config `c` over n_ranks ranks: the file's,
// or, when it was made for another rank count, its counts placed again with
// its replica budget (*replanned set to true). frugal::Error when the file does not
// describe this model's MoE layers (another expert count, a layer missing).
ExpertPlacement placement_for(const PlacementFile& f, const ModelConfig& c, int n_ranks, bool* replanned = nullptr);

}  // namespace frugal::model
