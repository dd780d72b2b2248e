// --expert-parallel for `frugal run`, `bench` and `logits` under mpirun:
// every rank loads the model, computes its own share of each MoE layer's
// routed experts and the rest of the forward pass in full (see
// model/expert_parallel.h and dist/process_group.h). Rank 0 alone prints.
#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "dist/process_group.h"
#include "model/model.h"
#include "runtime/engine_journal.h"

namespace frugal::cli {

struct ExpertParallelFlags {
  bool on = false;
  double timeout_seconds = 120;
  std::string placement;  // --expert-placement FILE (frugal placement's); empty: contiguous blocks
  bool attention_dp = false;  // --attention-dp: each rank its own share of the sequences (model/expert_parallel.h)
  bool attention_first = false;  // --attention-first-rank: every sequence on rank 0, experts only elsewhere
  // Rows travel to their experts' ranks by all-to-all (either flag above):
  // the engine places sequences on ranks (runtime::Engine::spread_sequences).
  bool rows_by_all_to_all() const { return attention_dp || attention_first; }
};

// attention_dp: the command also takes --attention-dp and
// --attention-first-rank (those that run batches of several sequences:
// bench, logits, serve, run).
void add_expert_parallel_flags(CLI::App& app, ExpertParallelFlags& f, bool attention_dp = false);

// Joins the mpirun job when the flag is on (null when off). On ranks other
// than 0, stdout goes to /dev/null and stderr carries errors only.
// --attention-dp or --attention-first-rank without --expert-parallel, or
// both, is an error.
dist::ProcessGroup* join_expert_parallel(const ExpertParallelFlags& f);
// The same for any command that runs under mpirun (train --data-parallel).
dist::ProcessGroup& join_ranks(double timeout_seconds);

// Makes `model`'s forward passes expert-parallel through `group` (nothing
// when null), each rank computing the experts of the placement file that
// f.placement names, or a contiguous block of each layer's: each rank will
// read only its own experts' pages, so nothing maps the whole file ahead;
// repacked weights are refused (repacking reads every expert). Turns on
// attention data-parallel with f.attention_dp, or with every sequence on
// rank 0 with f.attention_first (the other ranks then read no weights but
// their experts'). Call before the first forward pass.
void attach_expert_parallel(dist::ProcessGroup* group, const model::Model& model, const ExpertParallelFlags& f);

// Rank 0's engine leading the other ranks' (runtime/engine_journal.h):
// every forward pass and cache operation of `engine` is sent to them, with
// a keep-alive four times within f.timeout_seconds while idle. Null when
// `group` is. Under attention data-parallel the engine must already spread
// its sequences (runtime::Engine::spread_sequences).
std::unique_ptr<runtime::EngineJournal> lead_ranks(dist::ProcessGroup* group, runtime::Engine& engine,
                                                   const ExpertParallelFlags& f);
// A rank other than 0: runs every forward pass rank 0's engine runs, until
// rank 0 stops, then reports (report_expert_parallel over `seconds_from`).
// Signals are rank 0's to act on (mpirun passes Ctrl-C on to every rank):
// this rank ends when rank 0 says so. `what` names the command in errors.
int follow_rank0(dist::ProcessGroup& group, runtime::Engine& engine, const model::Model& model,
                 std::chrono::steady_clock::time_point seconds_from, const char* what);

// On rank 0, one line per rank on stderr: the experts it owns, the rows
// they computed, how much of their weights and of the other ranks' it has
// mapped, and its time and bytes in the per-layer exchanges; then the
// busiest rank's rows against the mean. `seconds`: the wall time the report
// covers. Every rank must call it (it gathers).
void report_expert_parallel(dist::ProcessGroup* group, const model::Model& model, double seconds);

}  // namespace frugal::cli
