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
// Which rank computes which experts is an ExpertPlacement
// (model/expert_placement.h): by default a contiguous block of every layer's
// experts per rank; a measured placement gives each rank any set, and may
// hold an expert on several ranks, which then split its rows.
//
// The implementation over MPI lives in src/dist/; the model layer sees only
// this interface.
#pragma once
#include <cstdint>
#include <span>

#include "model/expert_placement.h"

namespace frugal::model {

class Model;

class ExpertParallel {
 public:
  virtual ~ExpertParallel() = default;
  virtual int rank() const = 0;
  virtual int n_ranks() const = 0;

  // data holds one block of floats per rank, rank q's at [offsets[q],
  // offsets[q + 1]) (n_ranks() + 1 offsets, the same on every rank: the
  // rows each rank's experts compute, times n_embd); this rank has filled
  // its own block. On return every block is filled, on every rank. Every
  // rank calls it once per MoE layer of each forward pass.
  virtual void share_blocks(float* data, std::span<const int64_t> offsets, int64_t layer) = 0;
};

// Bytes of the routed experts' weights (gate, up, down, every MoE layer)
// that this process has mapped (pages present in its page table), split
// into those of the experts rank `rank` holds under `placement` and those
// of the other experts: a rank that reads only its own experts has (close
// to) zero of the latter.
struct ExpertPagesMapped {
  uint64_t owned_bytes = 0, owned_mapped = 0;
  uint64_t others_bytes = 0, others_mapped = 0;
};
ExpertPagesMapped expert_pages_mapped(const Model& model, const ExpertPlacement& placement, int rank);

// Prepares the file's mapping for rank `rank`, which reads only its own
// experts under `placement`: no read-around anywhere (a page fault would
// otherwise read its neighbours from disk too, other ranks' experts among
// them), and what the rank will read, every tensor but the routed experts
// and its own experts, asked for ahead, in the background.
void advise_expert_pages(const Model& model, const ExpertPlacement& placement, int rank);

// Makes every forward pass over `model` expert-parallel through `group`
// (null: back to computing every expert), each rank computing the experts
// `placement` gives it (the contiguous default when absent). Kept beside the
// model rather than in it, so that loading, the engine and the benchmarks
// need not know; set it before the first forward pass. `group` must outlive
// its use. frugal::Error when the placement is for another rank count,
// expert count or number of layers.
void attach_expert_parallel(const Model& model, ExpertParallel* group);
void attach_expert_parallel(const Model& model, ExpertParallel* group, ExpertPlacement placement);
// The group attached to `model`, or null.
ExpertParallel* expert_parallel_of(const Model& model);
// The placement attached with it (valid while attached), or null.
const ExpertPlacement* expert_placement_of(const Model& model);

}  // namespace frugal::model
