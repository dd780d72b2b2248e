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
// Attention data-parallel (set_attention_data_parallel) changes what the
// ranks hold: each rank's forward passes carry only its own share of the
// batch's sequences (their embeddings, attention and KV cache, router and
// shared experts), and in each MoE layer a row goes only to the ranks that
// hold its chosen experts, once per rank, by an all-to-all with counts
// (all_to_all); those ranks compute their experts over every rank's rows
// they received and send each row's outputs back the same way, and the
// row's own rank adds them in the single process's expert order, so each
// sequence's logits are still one process's bits (model/moe_dispatch.h).
//
// The implementation over MPI lives in src/dist/; the model layer sees only
// this interface.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

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

  // Sends block q of `send` (send_counts[q] floats; the blocks one after
  // another in rank order, this rank's own included) to rank q; `recv`
  // gets, in rank order, the block every rank sent to this one, recv_counts[q]
  // floats from rank q. When recv_counts is empty on entry the ranks first
  // exchange their counts and fill it (the way there); on the way back the
  // caller knows them and passes them. `tokens`: the rows of this rank's
  // batch that the exchange serves (the report's bytes per token; 0 on the
  // way back). Every rank calls it as often as the others.
  virtual void all_to_all(std::span<const float> send, std::span<const int64_t> send_counts, std::vector<float>& recv,
                          std::vector<int64_t>& recv_counts, int64_t layer, int64_t tokens) = 0;

  // The same exchange outside the MoE layers (recv_counts always filled by
  // a count exchange first): the serving engine's logits to rank 0 and its
  // KV rows between ranks (runtime/engine.h). Counted apart from the expert
  // exchanges where the group keeps figures. `step`: what a rank that waits
  // too long was waiting for.
  virtual void move_blocks(std::span<const float> send, std::span<const int64_t> send_counts, std::vector<float>& recv,
                           std::vector<int64_t>& recv_counts, const char* step) {
    (void)step;
    recv_counts.clear();
    all_to_all(send, send_counts, recv, recv_counts, -1, 0);
  }
};

// Which ranks run attention (and the KV cache, router, shared experts and
// LM head) when the rows go to the experts by all-to-all
// (set_attention_data_parallel): every rank over its own share of the
// sequences, or rank 0 over all of them while the other ranks hold and
// compute routed experts only, never reading the rest of the model's
// weights nor keeping a KV cache (the other ranks can then be machines with
// memory for experts alone).
enum class AttentionRanks { kShared, kFirst };

// The sequences [begin, end) of a batch of n_seq that rank `rank` of
// `n_ranks` owns: kShared, contiguous blocks that differ by at most one,
// the first ranks holding the extra ones (a rank may own none); kFirst,
// all of them on rank 0.
ExpertRange sequence_share(int64_t n_seq, int rank, int n_ranks, AttentionRanks ranks = AttentionRanks::kShared);

// Bytes of the routed experts' weights (gate, up, down, every MoE layer)
// that this process has mapped (pages present in its page table), split
// into those of the experts rank `rank` holds under `placement` and those
// of the other experts: a rank that reads only its own experts has (close
// to) zero of the latter. `rest`: the file's other tensors (attention,
// norms, router, shared experts, embeddings, LM head), which a rank that
// holds experts only (AttentionRanks::kFirst) leaves (close to) unread.
struct ExpertPagesMapped {
  uint64_t owned_bytes = 0, owned_mapped = 0;
  uint64_t others_bytes = 0, others_mapped = 0;
  uint64_t rest_bytes = 0, rest_mapped = 0;
};
ExpertPagesMapped expert_pages_mapped(const Model& model, const ExpertPlacement& placement, int rank);

// Prepares the file's mapping for rank `rank`, which reads only its own
// experts under `placement`: no read-around anywhere (a page fault would
// otherwise read its neighbours from disk too, other ranks' experts among
// them), and what the rank will read asked for ahead, in the background:
// its own experts and, unless it holds experts only (`experts_only`),
// every other tensor but the routed experts.
void advise_expert_pages(const Model& model, const ExpertPlacement& placement, int rank, bool experts_only = false);

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
// Turns attention data-parallel on or off for the group attached to
// `model` (frugal::Error when none is): from then on every rank must run
// the same number of forward passes, each over its own rows, none
// included (a rank without rows still computes its experts for the
// others). Set before the first forward pass.
// `ranks`: where the sequences go (AttentionRanks).
void set_attention_data_parallel(const Model& model, bool on, AttentionRanks ranks = AttentionRanks::kShared);
bool attention_data_parallel(const Model& model);
// The placement of sequences set with it (kShared when off).
AttentionRanks attention_ranks(const Model& model);

}  // namespace frugal::model
