// Expert parallelism as the forward pass sees it. Several processes (ranks)
// run the same forward pass over the same rows; each computes only its own
// share of the routed experts of every MoE layer, so each reads only those
// experts' weights. Everything else (embeddings, attention, norms, router,
// shared experts, LM head) runs on every rank. In each MoE layer every rank
// routes every row, computes its own experts' down outputs, and
// share_blocks() gives every rank every other rank's; each rank then adds
// all experts' weighted outputs in the one fixed order that a single
// process uses. So the layer's output has the same bits on every rank and
// as in one process, and every rank samples the same tokens as one process
// would.
//
// The implementation over MPI lives in src/dist/; the model layer sees only
// this interface.
#pragma once
#include <cstdint>
#include <span>

namespace frugal::model {

class Model;

// Experts [begin, end) of every MoE layer.
struct ExpertRange {
  int64_t begin = 0, end = 0;
  bool contains(int64_t e) const { return e >= begin && e < end; }
};

// Rank `rank` of `n_ranks` owns a contiguous block of the n_expert experts;
// block sizes differ by at most one (the first n_expert % n_ranks ranks hold
// one more). REQUIRES: 0 <= rank < n_ranks.
ExpertRange expert_share(int64_t n_expert, int rank, int n_ranks);

class ExpertParallel {
 public:
  virtual ~ExpertParallel() = default;
  virtual int rank() const = 0;
  virtual int n_ranks() const = 0;

  // data holds one block of floats per rank, rank q's at [offsets[q],
  // offsets[q + 1]) (n_ranks() + 1 offsets, the same on every rank: the
  // rows routed to each rank's experts, times n_embd); this rank has filled
  // its own block. On return every block is filled, on every rank. Every
  // rank calls it once per MoE layer of each forward pass.
  virtual void share_blocks(float* data, std::span<const int64_t> offsets, int64_t layer) = 0;

  ExpertRange owned(int64_t n_expert) const { return expert_share(n_expert, rank(), n_ranks()); }
};

// Bytes of the routed experts' weights (gate, up, down, every MoE layer)
// that this process has mapped (pages present in its page table), split
// into those of the experts it owns and those of other ranks' experts: a
// rank that reads only its own experts has (close to) zero of the latter.
struct ExpertPagesMapped {
  uint64_t owned_bytes = 0, owned_mapped = 0;
  uint64_t others_bytes = 0, others_mapped = 0;
};
ExpertPagesMapped expert_pages_mapped(const Model& model, ExpertRange owned);

// Prepares the file's mapping for a rank that reads only `owned`: no
// read-around anywhere (a page fault would otherwise read its neighbours
// from disk too, other ranks' experts among them), and what the rank will
// read, every tensor but the routed experts and its own experts, asked
// for ahead, in the background.
void advise_expert_pages(const Model& model, ExpertRange owned);

// Makes every forward pass over `model` expert-parallel through `group`
// (null: back to computing every expert). Kept beside the model rather than
// in it, so that loading, the engine and the benchmarks need not know; set
// it before the first forward pass. `group` must outlive its use.
void attach_expert_parallel(const Model& model, ExpertParallel* group);
// The group attached to `model`, or null.
ExpertParallel* expert_parallel_of(const Model& model);

}  // namespace frugal::model
