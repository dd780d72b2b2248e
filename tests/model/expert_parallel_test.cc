// Expert parallelism inside one process: N "ranks" are N threads, each with
// its own copy of the model and its own share of the experts, exchanging
// their experts' outputs through an in-memory group (the MPI group of
// src/dist/ does it with MPI_Allgatherv). Every MoE architecture's logits
// must be the same bits as the single-process forward pass's, on every
// rank; and under attention data-parallel (each rank its own sequences, rows
// to the experts' ranks by all-to-all), every sequence's. The mpirun tests
// (tests/dist/) check the same through processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <barrier>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <thread>

#include "base/error.h"
#include "base/progress.h"
#include "model/expert_parallel.h"
#include "model/forward.h"
#include "model/forward_test_model.h"
#include "model/presets.h"
#include "model/synth.h"

namespace frugal::model {
namespace {

using testing::OneSequenceKv;

TEST(ExpertShare, CoversEveryExpertOnceInNearEqualBlocks) {
  for (int64_t ne : {1, 4, 7, 8, 64, 257}) {
    for (int nr : {1, 2, 3, 4, 16}) {
      int64_t next = 0, lo = ne, hi = 0;
      for (int r = 0; r < nr; ++r) {
        const ExpertRange e = expert_share(ne, r, nr);
        EXPECT_EQ(e.begin, next) << ne << " over " << nr;
        next = e.end;
        lo = std::min(lo, e.end - e.begin);
        hi = std::max(hi, e.end - e.begin);
      }
      EXPECT_EQ(next, ne);
      EXPECT_LE(hi - lo, 1);
    }
  }
  EXPECT_TRUE(expert_share(8, 1, 2).contains(4));
  EXPECT_FALSE(expert_share(8, 1, 2).contains(3));
}

// The ranks of one process: share_blocks publishes each rank's buffer,
// every rank copies the others' blocks from theirs, and none goes on (to
// overwrite its buffer) before all have copied.
class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), parts_(static_cast<size_t>(n)), sends_(static_cast<size_t>(n)), sync_(n) {}
  class Rank : public ExpertParallel {
   public:
    Rank(ThreadGroup* g, int r) : g_(g), r_(r) {}
    int rank() const override { return r_; }
    int n_ranks() const override { return g_->n_; }
    void share_blocks(float* data, std::span<const int64_t> offsets, int64_t) override {
      g_->parts_[static_cast<size_t>(r_)] = data;
      g_->sync_.arrive_and_wait();
      for (int q = 0; q < g_->n_; ++q)
        if (q != r_)
          std::copy(g_->parts_[static_cast<size_t>(q)] + offsets[q], g_->parts_[static_cast<size_t>(q)] + offsets[q + 1],
                    data + offsets[q]);
      g_->sync_.arrive_and_wait();
      ++exchanges;
    }
    // Publishes this rank's blocks; each rank reads its block of every
    // rank's, in rank order; none goes on before all have read.
    void all_to_all(std::span<const float> send, std::span<const int64_t> send_counts, std::vector<float>& recv,
                    std::vector<int64_t>& recv_counts, int64_t, int64_t) override {
      g_->sends_[static_cast<size_t>(r_)] = {send.data(), send_counts};
      g_->sync_.arrive_and_wait();
      const bool known = !recv_counts.empty();
      recv.clear();
      for (int q = 0; q < g_->n_; ++q) {
        const auto& [data, counts] = g_->sends_[static_cast<size_t>(q)];
        int64_t at = 0;
        for (int p = 0; p < r_; ++p) at += counts[static_cast<size_t>(p)];
        const int64_t n = counts[static_cast<size_t>(r_)];
        if (known) EXPECT_EQ(recv_counts[static_cast<size_t>(q)], n) << "counts of the way back";
        else recv_counts.push_back(n);
        recv.insert(recv.end(), data + at, data + at + n);
      }
      g_->sync_.arrive_and_wait();
      ++all_to_alls;
    }
    int64_t exchanges = 0, all_to_alls = 0;

   private:
    ThreadGroup* g_;
    int r_;
  };

 private:
  int n_;
  std::vector<float*> parts_;
  std::vector<std::pair<const float*, std::span<const int64_t>>> sends_;  // all_to_all: each rank's blocks
  std::barrier<> sync_;
};

// Logits of 8 prompt rows, then 3 decode steps (each a row of its own);
// `counts`, if given, receives the rows routed to each expert
// (Forward::expert_rows).
std::vector<float> run_rows(const Model& m, std::vector<uint64_t>* counts = nullptr) {
  OneSequenceKv kv(m.config(), 16);
  Forward fwd(m);
  const int32_t tokens[] = {256, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108};
  std::vector<BatchRow> rows;
  for (int32_t i = 0; i < 8; ++i) rows.push_back({0, i, tokens[i], true});
  std::vector<float> all, logits;
  fwd.run(rows, kv, nullptr, logits);
  all = logits;
  for (int32_t i = 8; i < 11; ++i) {
    const BatchRow row{0, i, tokens[i], true};
    fwd.run(std::span(&row, 1), kv, nullptr, logits);
    all.insert(all.end(), logits.begin(), logits.end());
  }
  if (counts) *counts = fwd.expert_rows();
  return all;
}

// Runs the model on n_ranks threads under `placement` (null: the contiguous
// default); the logits of every rank, and the exchanges rank 0 made.
std::vector<std::vector<float>> run_ranks(const std::string& path, int n_ranks, const ExpertPlacement* placement,
                                          int64_t* exchanges) {
  ThreadGroup group(n_ranks);
  std::vector<std::unique_ptr<Model>> models;
  std::vector<std::unique_ptr<ThreadGroup::Rank>> ranks;
  std::vector<std::vector<float>> got(static_cast<size_t>(n_ranks));
  for (int r = 0; r < n_ranks; ++r) {
    models.push_back(Model::load(path));
    ranks.push_back(std::make_unique<ThreadGroup::Rank>(&group, r));
    if (placement)
      attach_expert_parallel(*models.back(), ranks.back().get(), *placement);
    else
      attach_expert_parallel(*models.back(), ranks.back().get());
  }
  std::vector<std::thread> threads;
  for (int r = 0; r < n_ranks; ++r)
    threads.emplace_back([&, r] { got[static_cast<size_t>(r)] = run_rows(*models[static_cast<size_t>(r)]); });
  for (auto& t : threads) t.join();
  for (int r = 0; r < n_ranks; ++r) attach_expert_parallel(*models[static_cast<size_t>(r)], nullptr);
  *exchanges = ranks[0]->exchanges;
  return got;
}

std::string synth_path(const std::string& what, const std::string& arch) {
  return (std::filesystem::temp_directory_path() /
          ("frugal_expert_parallel_" + what + std::to_string(::getpid()) + "_" + arch + ".gguf"))
      .string();
}

void write_tiny(const ModelConfig& c, const std::string& path) {
  SynthOptions opts;
  opts.type = "q8_0";
  opts.seed = 5;
  opts.progress_label = "";
  write_synth_model(c, gguf::Metadata{}, opts, path);
}

TEST(ExpertParallel, EveryMoeArchitectureMatchesOneProcess) {
  Progress::set_enabled(false);
  int tested = 0;
  for (const auto& p : all_presets()) {
    if (p.name != "tiny" || !p.config.is_moe()) continue;
    SCOPED_TRACE(p.arch);
    const std::string path = synth_path("", p.arch);
    write_tiny(p.config, path);
    const std::vector<float> want = run_rows(*Model::load(path));

    for (int n_ranks : {2, 3}) {
      SCOPED_TRACE(std::to_string(n_ranks) + " ranks");
      int64_t exchanges = 0;
      const std::vector<std::vector<float>> got = run_ranks(path, n_ranks, nullptr, &exchanges);
      int64_t moe_layers = 0;
      for (int64_t il = 0; il < p.config.n_layer; ++il) moe_layers += p.config.layer_is_moe(il) ? 1 : 0;
      EXPECT_EQ(exchanges, 4 * moe_layers);  // one per MoE layer per forward pass
      for (int r = 0; r < n_ranks; ++r)
        EXPECT_EQ(got[static_cast<size_t>(r)], want) << "rank " << r << " differs from one process";
    }
    std::filesystem::remove(path);
    ++tested;
  }
  EXPECT_GE(tested, 6);
}

// Placements other than contiguous blocks: the experts balanced by the rows
// the single process routed to them (measured), the same with the hottest
// experts replicated (their rows split between the copies), every expert on
// every rank (every expert's rows split), and experts dealt round-robin
// (rank r: e % N == r). Every rank's logits are still the single process's.
TEST(ExpertParallel, MeasuredAndReplicatedPlacementsMatchOneProcess) {
  Progress::set_enabled(false);
  int tested = 0;
  for (const auto& p : all_presets()) {
    if (p.name != "tiny" || !p.config.is_moe()) continue;
    SCOPED_TRACE(p.arch);
    const ModelConfig& c = p.config;
    const std::string path = synth_path("placed_", p.arch);
    write_tiny(c, path);
    std::vector<uint64_t> counts;
    const std::vector<float> want = run_rows(*Model::load(path), &counts);
    ASSERT_EQ(counts.size(), static_cast<size_t>(c.n_layer * c.n_expert));
    int64_t moe_layers = 0;
    for (int64_t il = 0; il < c.n_layer; ++il) moe_layers += c.layer_is_moe(il) ? 1 : 0;

    for (int n_ranks : {2, 3}) {
      struct Case {
        std::string name;
        std::vector<LayerAssignment> layers;
      };
      std::vector<Case> cases = {{"measured", {}}, {"replicated", {}}, {"everywhere", {}}, {"round-robin", {}}};
      for (Case& k : cases) k.layers.resize(static_cast<size_t>(c.n_layer));
      bool split = false;  // some replicated expert got rows on two ranks
      for (int64_t il = 0; il < c.n_layer; ++il) {
        if (!c.layer_is_moe(il)) continue;
        const std::span<const uint64_t> rows(counts.data() + il * c.n_expert, static_cast<size_t>(c.n_expert));
        const size_t l = static_cast<size_t>(il);
        cases[0].layers[l] = balance_layer(rows, n_ranks, 0);
        cases[1].layers[l] = balance_layer(rows, n_ranks, 2);
        for (int r = 0; r < n_ranks; ++r) {
          std::vector<int64_t> all(static_cast<size_t>(c.n_expert)), dealt;
          std::iota(all.begin(), all.end(), int64_t{0});
          for (int64_t e = r; e < c.n_expert; e += n_ranks) dealt.push_back(e);
          cases[2].layers[l].push_back(all);
          cases[3].layers[l].push_back(dealt);
        }
        std::vector<int> copies(static_cast<size_t>(c.n_expert), 0);
        for (const auto& list : cases[1].layers[l])
          for (int64_t e : list) ++copies[static_cast<size_t>(e)];
        for (int64_t e = 0; e < c.n_expert; ++e) split = split || (copies[static_cast<size_t>(e)] > 1 && rows[e] >= 2);
      }
      EXPECT_TRUE(split) << "the replicated case splits no expert's rows";
      for (const Case& k : cases) {
        SCOPED_TRACE(k.name + ", " + std::to_string(n_ranks) + " ranks");
        const ExpertPlacement placement = ExpertPlacement::from_assignments(c.n_expert, n_ranks, k.layers);
        if (k.name != "measured") {
          EXPECT_FALSE(placement.is_contiguous());
        }
        int64_t exchanges = 0;
        const std::vector<std::vector<float>> got = run_ranks(path, n_ranks, &placement, &exchanges);
        EXPECT_EQ(exchanges, 4 * moe_layers);
        for (int r = 0; r < n_ranks; ++r)
          EXPECT_EQ(got[static_cast<size_t>(r)], want) << "rank " << r << " differs from one process";
      }
    }
    std::filesystem::remove(path);
    ++tested;
  }
  EXPECT_GE(tested, 6);
}

// A cache per sequence (the one-sequence cache of forward_test_model.h).
class SequencesKv : public KvStore {
 public:
  SequencesKv(const ModelConfig& c, int64_t n_seq, int64_t n_ctx) {
    for (int64_t i = 0; i < n_seq; ++i) seqs_.push_back(std::make_unique<OneSequenceKv>(c, n_ctx));
  }
  KvType type() const override { return KvType::kF32; }
  KvSlice slice(int64_t layer, int32_t seq) override { return seqs_[static_cast<size_t>(seq)]->slice(layer, 0); }
  float* recurrent_state(int64_t layer, int32_t seq) override {
    return seqs_[static_cast<size_t>(seq)]->recurrent_state(layer, 0);
  }

 private:
  std::vector<std::unique_ptr<OneSequenceKv>> seqs_;
};

// Sequence s of n: a prompt of 2 + 2s tokens, then 3 decode steps.
std::vector<int32_t> sequence_tokens(int s) {
  std::vector<int32_t> t;
  for (int i = 0; i < 5 + 2 * s; ++i) t.push_back((37 * s + 11 * i + 256) % 300);
  return t;
}

// Sequences [own.begin, own.end) of a batch: every prompt in one pass, then
// 3 passes of a row per sequence. The logits of each own sequence, its rows
// in order.
std::vector<std::vector<float>> run_sequences(const Model& m, ExpertRange own) {
  const int64_t n_own = own.end - own.begin;
  SequencesKv kv(m.config(), std::max<int64_t>(1, n_own), 32);
  Forward fwd(m);
  std::vector<std::vector<float>> got(static_cast<size_t>(n_own));
  std::vector<float> logits;
  const int64_t nv = m.config().n_vocab;
  auto pass = [&](int first, int count) {  // positions [first, first + count) of each sequence
    std::vector<BatchRow> rows;
    for (int64_t s = own.begin; s < own.end; ++s) {
      const std::vector<int32_t> t = sequence_tokens(static_cast<int>(s));
      const int prompt = static_cast<int>(t.size()) - 3;
      for (int i = first < 0 ? 0 : prompt + first; i < (first < 0 ? prompt : prompt + first + count); ++i)
        rows.push_back({static_cast<int32_t>(s - own.begin), i, t[static_cast<size_t>(i)], true});
    }
    fwd.run(rows, kv, nullptr, logits);
    for (size_t r = 0; r < rows.size(); ++r)
      got[static_cast<size_t>(rows[r].seq)].insert(got[static_cast<size_t>(rows[r].seq)].end(),
                                                   logits.begin() + static_cast<ptrdiff_t>(r) * nv,
                                                   logits.begin() + static_cast<ptrdiff_t>(r + 1) * nv);
  };
  pass(-1, 0);
  for (int step = 0; step < 3; ++step) pass(step, 1);
  return got;
}

// Attention data-parallel: each rank (thread) holds its own share of the
// sequences, with its own caches; rows go to their experts' ranks by
// all_to_all and back. Every sequence's logits are one process's bits, for
// every MoE architecture, shares uneven or empty, and placements with
// replicated experts (rows of one expert computed on several ranks).
TEST(ExpertParallel, AttentionDataParallelMatchesOneProcess) {
  Progress::set_enabled(false);
  int tested = 0;
  for (const auto& p : all_presets()) {
    if (p.name != "tiny" || !p.config.is_moe()) continue;
    SCOPED_TRACE(p.arch);
    const ModelConfig& c = p.config;
    const std::string path = synth_path("dp_", p.arch);
    write_tiny(c, path);
    int64_t moe_layers = 0;
    for (int64_t il = 0; il < c.n_layer; ++il) moe_layers += c.layer_is_moe(il) ? 1 : 0;
    struct Case {
      int n_seq, n_ranks;
      bool everywhere;  // every expert on every rank (else contiguous blocks)
      AttentionRanks attention = AttentionRanks::kShared;
    };
    for (const Case& k : {Case{3, 2, false}, Case{2, 3, false}, Case{5, 3, false}, Case{3, 2, true},
                          Case{3, 2, false, AttentionRanks::kFirst}, Case{5, 3, false, AttentionRanks::kFirst}}) {
      SCOPED_TRACE(std::to_string(k.n_seq) + " sequences, " + std::to_string(k.n_ranks) + " ranks" +
                   (k.everywhere ? ", every expert everywhere" : "") +
                   (k.attention == AttentionRanks::kFirst ? ", attention on rank 0" : ""));
      const std::vector<std::vector<float>> want = run_sequences(*Model::load(path), {0, k.n_seq});
      std::vector<LayerAssignment> layers(static_cast<size_t>(c.n_layer));
      if (k.everywhere)
        for (int64_t il = 0; il < c.n_layer; ++il) {
          std::vector<int64_t> all(static_cast<size_t>(c.n_expert));
          std::iota(all.begin(), all.end(), int64_t{0});
          if (c.layer_is_moe(il)) layers[static_cast<size_t>(il)].assign(static_cast<size_t>(k.n_ranks), all);
        }
      const ExpertPlacement placement = ExpertPlacement::from_assignments(c.n_expert, k.n_ranks, layers);
      ThreadGroup group(k.n_ranks);
      std::vector<std::unique_ptr<Model>> models;
      std::vector<std::unique_ptr<ThreadGroup::Rank>> ranks;
      std::vector<std::vector<std::vector<float>>> got(static_cast<size_t>(k.n_ranks));
      for (int r = 0; r < k.n_ranks; ++r) {
        models.push_back(Model::load(path));
        ranks.push_back(std::make_unique<ThreadGroup::Rank>(&group, r));
        attach_expert_parallel(*models.back(), ranks.back().get(), placement);
        set_attention_data_parallel(*models.back(), true, k.attention);
      }
      std::vector<std::thread> threads;
      for (int r = 0; r < k.n_ranks; ++r)
        threads.emplace_back([&, r] {
          got[static_cast<size_t>(r)] =
              run_sequences(*models[static_cast<size_t>(r)], sequence_share(k.n_seq, r, k.n_ranks, k.attention));
        });
      for (auto& t : threads) t.join();
      for (int r = 0; r < k.n_ranks; ++r) {
        const ExpertRange own = sequence_share(k.n_seq, r, k.n_ranks, k.attention);
        for (int64_t s = own.begin; s < own.end; ++s)
          EXPECT_EQ(got[static_cast<size_t>(r)][static_cast<size_t>(s - own.begin)], want[static_cast<size_t>(s)])
              << "sequence " << s << " on rank " << r << " differs from one process";
        EXPECT_EQ(ranks[static_cast<size_t>(r)]->all_to_alls, 2 * 4 * moe_layers);  // two per MoE layer per pass
        EXPECT_EQ(ranks[static_cast<size_t>(r)]->exchanges, 0);
        attach_expert_parallel(*models[static_cast<size_t>(r)], nullptr);
      }
    }
    std::filesystem::remove(path);
    ++tested;
  }
  EXPECT_GE(tested, 6);
}

TEST(ExpertParallel, SequenceSharesCoverEverySequenceOnce) {
  EXPECT_EQ(sequence_share(3, 0, 2).begin, 0);
  EXPECT_EQ(sequence_share(3, 0, 2).end, 2);
  EXPECT_EQ(sequence_share(3, 1, 2).begin, 2);
  EXPECT_EQ(sequence_share(3, 1, 2).end, 3);
  const ExpertRange none = sequence_share(2, 2, 3);
  EXPECT_EQ(none.end - none.begin, 0);
  // Attention on rank 0 alone: every sequence there, none elsewhere.
  EXPECT_EQ(sequence_share(3, 0, 2, AttentionRanks::kFirst).begin, 0);
  EXPECT_EQ(sequence_share(3, 0, 2, AttentionRanks::kFirst).end, 3);
  const ExpertRange first_none = sequence_share(3, 1, 2, AttentionRanks::kFirst);
  EXPECT_EQ(first_none.end - first_none.begin, 0);
}

TEST(ExpertParallel, APlacementForAnotherShapeIsRefused) {
  const std::string path = synth_path("refused_", "qwen3moe");
  ModelConfig c;
  for (const auto& p : all_presets())
    if (p.name == "tiny" && p.arch == "qwen3moe") c = p.config;
  write_tiny(c, path);
  const auto m = Model::load(path);
  ThreadGroup group(2);
  ThreadGroup::Rank rank(&group, 0);
  EXPECT_THROW(attach_expert_parallel(*m, &rank, ExpertPlacement::contiguous(c.n_layer, c.n_expert, 3)), Error);
  EXPECT_THROW(attach_expert_parallel(*m, &rank, ExpertPlacement::contiguous(c.n_layer, c.n_expert + 1, 2)), Error);
  attach_expert_parallel(*m, &rank, ExpertPlacement::contiguous(c.n_layer, c.n_expert, 2));
  EXPECT_NE(expert_placement_of(*m), nullptr);
  attach_expert_parallel(*m, nullptr);
  EXPECT_EQ(expert_placement_of(*m), nullptr);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal::model
