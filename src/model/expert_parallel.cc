#include "model/expert_parallel.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "base/mapped_file.h"
#include "base/resident_pages.h"
#include "model/model.h"

namespace frugal::model {
namespace {

// (model, group) pairs: a process attaches one or two models at most.
std::mutex attached_mutex;
std::vector<std::pair<const Model*, ExpertParallel*>> attached;

}  // namespace

void attach_expert_parallel(const Model& model, ExpertParallel* group) {
  std::lock_guard lock(attached_mutex);
  std::erase_if(attached, [&](const auto& a) { return a.first == &model; });
  if (group) attached.emplace_back(&model, group);
}

ExpertParallel* expert_parallel_of(const Model& model) {
  std::lock_guard lock(attached_mutex);
  for (const auto& [m, g] : attached)
    if (m == &model) return g;
  return nullptr;
}

ExpertRange expert_share(int64_t n_expert, int rank, int n_ranks) {
  const int64_t base = n_expert / n_ranks, extra = n_expert % n_ranks;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

void advise_expert_pages(const Model& model, ExpertRange owned) {
  const MappedFile* f = model.file().mapping();
  if (!f) return;
  // Hints: a failure changes no result.
  ::madvise(const_cast<uint8_t*>(f->data()), f->size(), MADV_RANDOM);
  for (const gguf::TensorInfo& t : model.file().tensors())
    if (t.name.find("_exps.") == std::string::npos) advise_willneed(t.data, t.n_bytes);
  for (const LayerWeights& L : model.weights().layers)
    for (const ExpertStack* st : {&L.gate_exps, &L.up_exps, &L.down_exps})
      if (st->data)
        advise_willneed(st->data + static_cast<size_t>(owned.begin) * st->expert_bytes,
                        static_cast<size_t>(owned.end - owned.begin) * st->expert_bytes);
}

ExpertPagesMapped expert_pages_mapped(const Model& model, ExpertRange owned) {
  ExpertPagesMapped r;
  for (const LayerWeights& L : model.weights().layers) {
    for (const ExpertStack* st : {&L.gate_exps, &L.up_exps, &L.down_exps}) {
      if (!st->data) continue;
      // Owned experts are one contiguous run of each stack; the others lie
      // before and after it.
      const uint8_t* b = st->data + static_cast<size_t>(owned.begin) * st->expert_bytes;
      const uint8_t* e = st->data + static_cast<size_t>(std::max(owned.end, owned.begin)) * st->expert_bytes;
      const uint8_t* end = st->data + static_cast<size_t>(st->n_expert) * st->expert_bytes;
      r.owned_bytes += static_cast<uint64_t>(e - b);
      r.owned_mapped += present_bytes(b, static_cast<size_t>(e - b));
      r.others_bytes += static_cast<uint64_t>((b - st->data) + (end - e));
      r.others_mapped += present_bytes(st->data, static_cast<size_t>(b - st->data)) +
                         present_bytes(e, static_cast<size_t>(end - e));
    }
  }
  return r;
}

}  // namespace frugal::model
