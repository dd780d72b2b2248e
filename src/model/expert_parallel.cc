#include "model/expert_parallel.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/mapped_file.h"
#include "base/resident_pages.h"
#include "gguf/tensor_names.h"
#include "model/model.h"

namespace frugal::model {
namespace {

// What a model is attached to: a process attaches one or two models at most.
struct Attached {
  const Model* model;
  ExpertParallel* group;
  std::shared_ptr<const ExpertPlacement> placement;
  bool attention_dp = false;
  AttentionRanks attention_ranks = AttentionRanks::kShared;
};
std::mutex attached_mutex;
std::vector<Attached> attached;

// Calls fn(begin, end, owned) for the maximal runs of experts [begin, end)
// of layer il that rank `rank` holds (owned) or does not.
template <class Fn>
void for_each_expert_run(const ExpertPlacement& p, int64_t il, int rank, Fn&& fn) {
  const int64_t ne = p.n_expert();
  for (int64_t b = 0; b < ne;) {
    const bool own = p.holds(rank, il, b);
    int64_t e = b + 1;
    while (e < ne && p.holds(rank, il, e) == own) ++e;
    fn(b, e, own);
    b = e;
  }
}

}  // namespace

void attach_expert_parallel(const Model& model, ExpertParallel* group) {
  if (!group) {
    std::lock_guard lock(attached_mutex);
    std::erase_if(attached, [&](const Attached& a) { return a.model == &model; });
    return;
  }
  const ModelConfig& c = model.config();
  attach_expert_parallel(model, group, ExpertPlacement::contiguous(c.n_layer, std::max<int64_t>(1, c.n_expert), group->n_ranks()));
}

void attach_expert_parallel(const Model& model, ExpertParallel* group, ExpertPlacement placement) {
  if (group) {
    const ModelConfig& c = model.config();
    if (placement.n_ranks() != group->n_ranks())
      fail("expert placement: made for ", placement.n_ranks(), " ranks, the job has ", group->n_ranks());
    if (c.n_expert > 0 && (placement.n_expert() != c.n_expert || placement.n_layer() != c.n_layer))
      fail("expert placement: made for ", placement.n_layer(), " layers of ", placement.n_expert(),
           " experts, the model has ", c.n_layer, " of ", c.n_expert);
  }
  std::lock_guard lock(attached_mutex);
  std::erase_if(attached, [&](const Attached& a) { return a.model == &model; });
  if (group) attached.push_back({&model, group, std::make_shared<const ExpertPlacement>(std::move(placement)), false});
}

void set_attention_data_parallel(const Model& model, bool on, AttentionRanks ranks) {
  std::lock_guard lock(attached_mutex);
  for (Attached& a : attached)
    if (a.model == &model) {
      a.attention_dp = on;
      a.attention_ranks = on ? ranks : AttentionRanks::kShared;
      return;
    }
  if (on) fail("attention data-parallel needs an expert-parallel group attached to the model");
}

bool attention_data_parallel(const Model& model) {
  std::lock_guard lock(attached_mutex);
  for (const Attached& a : attached)
    if (a.model == &model) return a.attention_dp;
  return false;
}

AttentionRanks attention_ranks(const Model& model) {
  std::lock_guard lock(attached_mutex);
  for (const Attached& a : attached)
    if (a.model == &model) return a.attention_ranks;
  return AttentionRanks::kShared;
}

ExpertRange sequence_share(int64_t n_seq, int rank, int n_ranks, AttentionRanks ranks) {
  if (ranks == AttentionRanks::kFirst) return rank == 0 ? ExpertRange{0, n_seq} : ExpertRange{0, 0};
  return expert_share(n_seq, rank, n_ranks);
}

ExpertParallel* expert_parallel_of(const Model& model) {
  std::lock_guard lock(attached_mutex);
  for (const Attached& a : attached)
    if (a.model == &model) return a.group;
  return nullptr;
}

const ExpertPlacement* expert_placement_of(const Model& model) {
  std::lock_guard lock(attached_mutex);
  for (const Attached& a : attached)
    if (a.model == &model) return a.placement.get();
  return nullptr;
}

void advise_expert_pages(const Model& model, const ExpertPlacement& placement, int rank, bool experts_only) {
  const MappedFile* f = model.file().mapping();
  if (!f) return;
  // Hints: a failure changes no result.
  ::madvise(const_cast<uint8_t*>(f->data()), f->size(), MADV_RANDOM);
  if (!experts_only)
    for (const gguf::TensorInfo& t : model.file().tensors())
      if (!gguf::is_expert_tensor(t.name)) advise_willneed(t.data, t.n_bytes);
  const auto& layers = model.weights().layers;
  for (size_t il = 0; il < layers.size() && static_cast<int64_t>(il) < placement.n_layer(); ++il)
    for (const ExpertStack* st : {&layers[il].gate_exps, &layers[il].up_exps, &layers[il].down_exps})
      if (st->data)
        for_each_expert_run(placement, static_cast<int64_t>(il), rank, [&](int64_t b, int64_t e, bool own) {
          if (own)
            advise_willneed(st->data + static_cast<size_t>(b) * st->expert_bytes,
                            static_cast<size_t>(e - b) * st->expert_bytes);
        });
}

ExpertPagesMapped expert_pages_mapped(const Model& model, const ExpertPlacement& placement, int rank) {
  ExpertPagesMapped r;
  for (const gguf::TensorInfo& t : model.file().tensors())
    if (!gguf::is_expert_tensor(t.name)) {
      r.rest_bytes += t.n_bytes;
      r.rest_mapped += present_bytes(t.data, t.n_bytes);
    }
  const auto& layers = model.weights().layers;
  for (size_t il = 0; il < layers.size() && static_cast<int64_t>(il) < placement.n_layer(); ++il) {
    for (const ExpertStack* st : {&layers[il].gate_exps, &layers[il].up_exps, &layers[il].down_exps}) {
      if (!st->data) continue;
      // Runs of owned experts and of the others' (pages on the edge between
      // two runs count in both).
      for_each_expert_run(placement, static_cast<int64_t>(il), rank, [&](int64_t b, int64_t e, bool own) {
        const uint8_t* p = st->data + static_cast<size_t>(b) * st->expert_bytes;
        const size_t n = static_cast<size_t>(e - b) * st->expert_bytes;
        (own ? r.owned_bytes : r.others_bytes) += n;
        (own ? r.owned_mapped : r.others_mapped) += present_bytes(p, n);
      });
    }
  }
  return r;
}

}  // namespace frugal::model
