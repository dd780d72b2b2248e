#include "cli/expert_parallel_flags.h"

#include <signal.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>

#include "base/error.h"
#include "base/human_format.h"
#include "base/log.h"
#include "base/mapped_file.h"
#include "model/expert_parallel.h"
#include "runtime/engine.h"

namespace frugal::cli {

void add_expert_parallel_flags(CLI::App& app, ExpertParallelFlags& f, bool attention_dp) {
  app.add_flag("--expert-parallel", f.on,
               "under mpirun: each rank computes its share of the routed experts and reads only their weights "
               "(docs/DISTRIBUTED.md)");
  app.add_option("--ep-timeout", f.timeout_seconds,
                 "seconds a rank waits for the others at one exchange before ending the job (default 120)");
  app.add_option("--expert-placement", f.placement,
                 "with --expert-parallel: each rank computes the experts this placement file gives it (frugal "
                 "placement writes one; default: a contiguous block of each layer's experts)");
  if (!attention_dp) return;
  app.add_flag("--attention-dp", f.attention_dp,
               "with --expert-parallel: each rank takes its own share of the sequences through attention (its own "
               "KV cache) and sends each row only to its experts' ranks (all-to-all; docs/DISTRIBUTED.md)");
  app.add_flag("--attention-first-rank", f.attention_first,
               "with --expert-parallel: attention, the KV cache, router, shared experts and LM head run on rank 0 "
               "alone, which sends each row to its experts' ranks; the other ranks hold routed experts only "
               "(docs/DISTRIBUTED.md)");
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
  if (!f.on && !f.placement.empty()) fail("--expert-placement needs --expert-parallel (under mpirun)");
  if (!f.on && f.attention_dp) fail("--attention-dp needs --expert-parallel (under mpirun)");
  if (!f.on && f.attention_first) fail("--attention-first-rank needs --expert-parallel (under mpirun)");
  if (f.attention_dp && f.attention_first)
    fail("--attention-dp and --attention-first-rank: choose one (each rank its share of the sequences, or rank 0 all)");
  return f.on ? &join_ranks(f.timeout_seconds) : nullptr;
}

namespace {

// "a" or "a-b": the least and most of v over the model's MoE layers.
template <class Fn>
std::string over_layers(const model::ModelConfig& c, Fn&& v) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t il = 0; il < c.n_layer; ++il)
    if (c.layer_is_moe(il)) lo = std::min<int64_t>(lo, v(il)), hi = std::max<int64_t>(hi, v(il));
  if (lo > hi) return "0";
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
}

// What rank r holds: "experts 0..31" (a contiguous block in every layer) or
// "experts: 17 a layer, 1 of them replicated".
std::string holdings(const model::ModelConfig& c, const model::ExpertPlacement& p, int r) {
  if (p.is_contiguous()) {
    const model::ExpertRange e = model::expert_share(c.n_expert, r, p.n_ranks());
    return "experts " + std::to_string(e.begin) + ".." + std::to_string(e.end - 1);
  }
  const std::string held = over_layers(c, [&](int64_t il) { return static_cast<int64_t>(p.experts_of(r, il).size()); });
  const std::string shared = over_layers(c, [&](int64_t il) {
    int64_t n = 0;
    for (int64_t e = 0; e < c.n_expert; ++e) n += p.holds(r, il, e) && p.holders(il, e).size() > 1 ? 1 : 0;
    return n;
  });
  return "experts: " + held + " a layer" + (shared == "0" ? "" : ", " + shared + " of them replicated");
}

}  // namespace

void attach_expert_parallel(dist::ProcessGroup* group, const model::Model& model, const ExpertParallelFlags& f) {
  if (!group) return;
  const model::ModelConfig& c = model.config();
  if (!c.is_moe()) fail("--expert-parallel: ", model.file().path(), " has no routed experts");
  if (model.repacked().tensors > 0)
    fail("--expert-parallel: repacking at load reads every expert's weights; run without --repack "
         "(or repack the file once with frugal quantize --repack)");
  model::ExpertPlacement placement = model::ExpertPlacement::contiguous(c.n_layer, c.n_expert, group->n_ranks());
  std::string how;
  if (!f.placement.empty()) {
    const model::PlacementFile pf = model::read_placement_file(f.placement);
    bool replanned = false;
    try {
      placement = model::placement_for(pf, c, group->n_ranks(), &replanned);
    } catch (const Error& e) {
      fail("--expert-placement ", f.placement, ": ", e.what());
    }
    how = ", placed by " + f.placement + " (rows measured over " + (pf.source.empty() ? "?" : pf.source) + ", " +
          std::to_string(pf.tokens) + " tokens";
    if (replanned)
      how += "; made for " + std::to_string(pf.n_ranks) + " ranks, placed again for " +
             std::to_string(group->n_ranks()) + " with " + std::to_string(pf.replicas_per_rank) + " replicas a rank";
    how += ")";
  }
  if (const MappedFile* m = model.file().mapping()) m->skip_populate();
  model::advise_expert_pages(model, placement, group->rank(), f.attention_first && group->rank() != 0);
  const std::string held = holdings(c, placement, group->rank());
  if (placement.is_contiguous())
    log_info("expert-parallel: rank ", group->rank(), " of ", group->n_ranks(), " owns ", held, " of ", c.n_expert,
             " in every MoE layer", how);
  else
    log_info("expert-parallel: rank ", group->rank(), " of ", group->n_ranks(), " holds ", held, " (of ", c.n_expert,
             ")", how);
  model::attach_expert_parallel(model, group, std::move(placement));
  model::set_attention_data_parallel(model, f.rows_by_all_to_all(),
                                     f.attention_first ? model::AttentionRanks::kFirst : model::AttentionRanks::kShared);
}

namespace {
// Rank 0's messages to the other ranks (runtime/engine_journal.h).
runtime::JournalChannel journal_channel(dist::ProcessGroup& group) {
  return [&group](std::vector<uint8_t>& bytes) { group.broadcast(bytes, "waiting for rank 0's next batch"); };
}
}  // namespace

std::unique_ptr<runtime::EngineJournal> lead_ranks(dist::ProcessGroup* group, runtime::Engine& engine,
                                                   const ExpertParallelFlags& f) {
  if (!group) return nullptr;
  // Rank 0 says it is alive four times within the other ranks' deadline.
  const auto keep_alive = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_seconds * 1000 / 4));
  return std::make_unique<runtime::EngineJournal>(engine, journal_channel(*group), keep_alive);
}

int follow_rank0(dist::ProcessGroup& group, runtime::Engine& engine, const model::Model& model,
                 std::chrono::steady_clock::time_point seconds_from, const char* what) {
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  if (!runtime::follow_engine(engine, journal_channel(group))) fail(what, ": rank 0 stopped on an error");
  report_expert_parallel(&group, model,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - seconds_from).count());
  return 0;
}

void report_expert_parallel(dist::ProcessGroup* group, const model::Model& model, double seconds) {
  if (!group) return;
  const model::ExpertPlacement* placement = model::expert_placement_of(model);
  if (!placement) return;
  const model::ExpertPagesMapped p = model::expert_pages_mapped(model, *placement, group->rank());
  const dist::CommStats c = group->stats();
  const double rows = static_cast<double>(c.floats_computed) / static_cast<double>(model.config().n_embd);
  const std::vector<double> mine = {static_cast<double>(p.owned_bytes), static_cast<double>(p.owned_mapped),
                                    static_cast<double>(p.others_bytes), static_cast<double>(p.others_mapped),
                                    static_cast<double>(c.exchanges), static_cast<double>(c.bytes_sent), c.seconds, seconds,
                                    rows, static_cast<double>(c.all_to_all_bytes), static_cast<double>(c.tokens_served),
                                    static_cast<double>(c.moves), static_cast<double>(c.moved_bytes),
                                    static_cast<double>(p.rest_bytes), static_cast<double>(p.rest_mapped)};
  const std::vector<double> all = group->gather(mine);
  if (all.empty()) return;
  double max_rows = 0, sum_rows = 0, a2a_bytes = 0, tokens = 0, moves = 0, moved = 0;
  for (int r = 0; r < group->n_ranks(); ++r) {
    const double* v = all.data() + static_cast<size_t>(r) * mine.size();
    max_rows = std::max(max_rows, v[8]);
    sum_rows += v[8];
    a2a_bytes += v[9];
    tokens += v[10];
    moves = std::max(moves, v[11]);
    moved += v[12];
    std::fprintf(stderr,
                 "expert-parallel rank %d: %s | rows computed %.0f | expert pages mapped: own %s of %s, others' %s of %s | "
                 "other weights mapped: %s of %s | exchanges: %.0f, %s sent, %.3f s of %.3f s (%.1f %%)\n",
                 r, holdings(model.config(), *placement, r).c_str(), v[8], human_bytes(v[1]).c_str(),
                 human_bytes(v[0]).c_str(), human_bytes(v[3]).c_str(), human_bytes(v[2]).c_str(),
                 human_bytes(v[14]).c_str(), human_bytes(v[13]).c_str(), v[4],
                 human_bytes(v[5]).c_str(), v[6], v[7], v[7] > 0 ? 100.0 * v[6] / v[7] : 0.0);
  }
  const double n_embd = static_cast<double>(model.config().n_embd);
  if (model::attention_data_parallel(model)) {
    // Against the all-gather mode, where every expert output row goes to
    // the N - 1 other ranks: k x n_embd x 4 x (N - 1) bytes per token.
    const double gather = static_cast<double>(model.config().n_expert_used) * n_embd * sizeof(float) * (group->n_ranks() - 1);
    const bool first = model::attention_ranks(model) == model::AttentionRanks::kFirst;
    std::fprintf(stderr,
                 "%s: rows computed per rank: busiest %.0f, mean %.1f; all-to-all sent %s per "
                 "token per MoE layer (all ranks, both ways, over %.0f token-layers), the all-gather design %s\n",
                 first ? "attention on rank 0" : "attention data-parallel", max_rows, sum_rows / group->n_ranks(), human_bytes(tokens > 0 ? a2a_bytes / tokens : 0).c_str(), tokens,
                 human_bytes(gather).c_str());
    if (moves > 0)  // serving: logits to rank 0, KV rows between ranks (runtime/engine_spread.cc)
      std::fprintf(stderr, "attention data-parallel serving: logits and KV rows moved between ranks: %s in %.0f exchanges\n",
                   human_bytes(moved).c_str(), moves);
    return;
  }
  // Each exchange waits for its busiest rank: summed over the exchanges,
  // its rows against an even share's.
  const double busiest = static_cast<double>(c.floats_busiest) / n_embd;
  const double even = static_cast<double>(c.floats_all) / n_embd / group->n_ranks();
  const double mean = sum_rows / group->n_ranks();
  std::fprintf(stderr,
               "expert-parallel: rows computed per rank: busiest %.0f, mean %.1f, max/mean %.3f; the busiest rank's of "
               "each exchange, summed: %.0f, %.3f x the mean (%s)\n",
               max_rows, mean, mean > 0 ? max_rows / mean : 0.0, busiest, even > 0 ? busiest / even : 0.0,
               placement->is_contiguous() ? "contiguous placement" : "the file's placement");
}

}  // namespace frugal::cli
