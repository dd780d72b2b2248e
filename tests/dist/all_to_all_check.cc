// ProcessGroup::all_to_all over MPI (src/dist/process_group_mpi.cc), run by
// tests/dist/all_to_all_test.sh under mpirun at 1, 2 and 3 ranks (one rank:
// its block to itself, without MPI calls). Each rank sends every rank a
// block of its own size (zero for some pairs), filled with values that say
// who sent it to whom; the counts come first when unknown, the blocks
// arrive in rank order, and the way back with known counts returns every
// block to its sender unchanged.
#include <gtest/gtest.h>

#include <vector>

#include "dist/process_group.h"

namespace frugal::dist {
namespace {

ProcessGroup& group() { return ProcessGroup::join(30); }

// Floats rank `from` sends rank `to`: none for some pairs, and never the
// same count both ways.
int64_t block_size(int from, int to) { return (from + 2 * to) % 3 == 0 ? 0 : 1 + from + 3 * to; }
float value(int from, int to, int64_t i) { return static_cast<float>(from * 10000 + to * 100) + static_cast<float>(i); }

TEST(AllToAll, CountsFirstThenBlocksInRankOrderAndBack) {
  ProcessGroup& g = group();
  const int me = g.rank(), n = g.n_ranks();
  std::vector<float> send;
  std::vector<int64_t> send_counts;
  int64_t to_others = 0;
  for (int q = 0; q < n; ++q) {
    send_counts.push_back(block_size(me, q));
    for (int64_t i = 0; i < send_counts.back(); ++i) send.push_back(value(me, q, i));
    if (q != me) to_others += send_counts.back();
  }
  const CommStats before = g.stats();
  std::vector<float> recv;
  std::vector<int64_t> recv_counts;
  g.all_to_all(send, send_counts, recv, recv_counts, 7, 5);
  ASSERT_EQ(recv_counts.size(), static_cast<size_t>(n));
  size_t at = 0;
  for (int q = 0; q < n; ++q) {
    EXPECT_EQ(recv_counts[static_cast<size_t>(q)], block_size(q, me)) << "from rank " << q;
    for (int64_t i = 0; i < block_size(q, me); ++i) EXPECT_EQ(recv[at++], value(q, me, i)) << "from rank " << q;
  }
  EXPECT_EQ(at, recv.size());

  // The way back, counts known: every block returns to its sender.
  std::vector<float> returned;
  std::vector<int64_t> back_counts = send_counts;
  g.all_to_all(recv, recv_counts, returned, back_counts, 7, 0);
  EXPECT_EQ(returned, send);
  const CommStats after = g.stats();
  EXPECT_EQ(after.all_to_alls - before.all_to_alls, 2);
  EXPECT_EQ(after.tokens_served - before.tokens_served, 5u);
  int64_t back_to_others = 0;
  for (int q = 0; q < n; ++q)
    if (q != me) back_to_others += block_size(q, me);
  EXPECT_EQ(after.all_to_all_bytes - before.all_to_all_bytes,
            static_cast<uint64_t>(to_others + back_to_others) * sizeof(float));
}

TEST(AllToAll, NothingToSend) {
  ProcessGroup& g = group();
  std::vector<int64_t> zeros(static_cast<size_t>(g.n_ranks()), 0), counts;
  std::vector<float> recv = {1.0f, 2.0f};
  g.all_to_all({}, zeros, recv, counts, 0, 0);
  EXPECT_TRUE(recv.empty());
  EXPECT_EQ(counts, zeros);
}

}  // namespace
}  // namespace frugal::dist
