// --expert-parallel for `frugal run`, `bench` and `logits` under mpirun:
// every rank loads the model, computes its own share of each MoE layer's
// routed experts and the rest of the forward pass in full (see
// model/expert_parallel.h and dist/process_group.h). Rank 0 alone prints.
#pragma once
#include <CLI/CLI.hpp>

#include "dist/process_group.h"
#include "model/model.h"

namespace frugal::cli {

struct ExpertParallelFlags {
  bool on = false;
  double timeout_seconds = 120;
};

void add_expert_parallel_flags(CLI::App& app, ExpertParallelFlags& f);

// Joins the mpirun job when the flag is on (null when off). On ranks other
// than 0, stdout goes to /dev/null and stderr carries errors only.
dist::ProcessGroup* join_expert_parallel(const ExpertParallelFlags& f);
// The same for any command that runs under mpirun (train --data-parallel).
dist::ProcessGroup& join_ranks(double timeout_seconds);

// Makes `model`'s forward passes expert-parallel through `group` (nothing
// when null): each rank will read only its own experts' pages, so nothing
// maps the whole file ahead; repacked weights are refused (repacking reads
// every expert). Call before the first forward pass.
void attach_expert_parallel(dist::ProcessGroup* group, const model::Model& model);

// On rank 0, one line per rank on stderr: the experts it owns, how much of
// their weights and of the other ranks' it has mapped, and its time and
// bytes in the per-layer exchanges. `seconds`: the wall time the report covers.
// Every rank must call it (it gathers).
void report_expert_parallel(dist::ProcessGroup* group, const model::Model& model, double seconds);

}  // namespace frugal::cli
