#include "cli/expert_parallel_flags.h"

#include <cstdio>

#include "base/error.h"
#include "base/human_format.h"
#include "base/log.h"
#include "base/mapped_file.h"
#include "model/expert_parallel.h"

namespace frugal::cli {

void add_expert_parallel_flags(CLI::App& app, ExpertParallelFlags& f) {
  app.add_flag("--expert-parallel", f.on,
               "under mpirun: each rank computes its share of the routed experts and reads only their weights "
               "(docs/DISTRIBUTED.md)");
  app.add_option("--ep-timeout", f.timeout_seconds,
                 "seconds a rank waits for the others at one exchange before ending the job (default 120)");
}

dist::ProcessGroup& join_ranks(double timeout_seconds) {
  dist::ProcessGroup& g = dist::ProcessGroup::join(timeout_seconds);
  if (g.rank() != 0) {
    if (!std::freopen("/dev/null", "w", stdout)) fail("cannot silence rank ", g.rank(), "'s output");
    set_log_level(LogLevel::kError);
  }
  return g;
}

dist::ProcessGroup* join_expert_parallel(const ExpertParallelFlags& f) {
  return f.on ? &join_ranks(f.timeout_seconds) : nullptr;
}

void attach_expert_parallel(dist::ProcessGroup* group, const model::Model& model) {
  if (!group) return;
  if (!model.config().is_moe()) fail("--expert-parallel: ", model.file().path(), " has no routed experts");
  if (model.repacked().tensors > 0)
    fail("--expert-parallel: repacking at load reads every expert's weights; run without --repack "
         "(or repack the file once with frugal quantize --repack)");
  if (const MappedFile* f = model.file().mapping()) f->skip_populate();
  model::attach_expert_parallel(model, group);
  const model::ExpertRange mine = group->owned(model.config().n_expert);
  model::advise_expert_pages(model, mine);
  log_info("expert-parallel: rank ", group->rank(), " of ", group->n_ranks(), " owns experts ", mine.begin, "..",
           mine.end - 1, " of ", model.config().n_expert, " in every MoE layer");
}

void report_expert_parallel(dist::ProcessGroup* group, const model::Model& model, double seconds) {
  if (!group) return;
  const model::ExpertPagesMapped p = model::expert_pages_mapped(model, group->owned(model.config().n_expert));
  const dist::CommStats c = group->stats();
  const std::vector<double> mine = {static_cast<double>(p.owned_bytes), static_cast<double>(p.owned_mapped),
                                    static_cast<double>(p.others_bytes), static_cast<double>(p.others_mapped),
                                    static_cast<double>(c.exchanges), static_cast<double>(c.bytes_sent), c.seconds, seconds};
  const std::vector<double> all = group->gather(mine);
  for (int r = 0; r < group->n_ranks() && !all.empty(); ++r) {
    const double* v = all.data() + static_cast<size_t>(r) * mine.size();
    const model::ExpertRange e = model::expert_share(model.config().n_expert, r, group->n_ranks());
    std::fprintf(stderr,
                 "expert-parallel rank %d: experts %lld..%lld | expert pages mapped: own %s of %s, others' %s of %s | "
                 "exchanges: %.0f, %s sent, %.3f s of %.3f s (%.1f %%)\n",
                 r, static_cast<long long>(e.begin), static_cast<long long>(e.end - 1), human_bytes(v[1]).c_str(),
                 human_bytes(v[0]).c_str(), human_bytes(v[3]).c_str(), human_bytes(v[2]).c_str(), v[4],
                 human_bytes(v[5]).c_str(), v[6], v[7], v[7] > 0 ? 100.0 * v[6] / v[7] : 0.0);
  }
}

}  // namespace frugal::cli
