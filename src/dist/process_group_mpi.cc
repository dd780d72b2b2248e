// The distributed layer over OpenMPI: MPI_COMM_WORLD as an expert-parallel
// group.
//
// share_blocks is one MPI_Allgatherv in place: each rank sends the down
// outputs of its experts' jobs (the rows routed to them, n_embd floats
// each) to every other rank. Every rank then adds all the jobs' outputs in
// the fixed job order itself (model/forward_moe.cc), which is why the
// results are the same bits on every rank and as in one process; a sum
// across ranks (MPI_Allreduce of partial sums) would add in another order,
// and in a quantised model a last-bit difference in a layer's output can
// change a later layer's expert choice.
//
// all_to_all (attention data-parallel, model/moe_dispatch.h) is an
// MPI_Ialltoall of the counts, when the receiver does not know them, and an
// MPI_Ialltoallv of the blocks: each row goes only to the ranks of its
// experts, and their outputs only back to the row's rank. move_blocks is
// the same exchange for the serving engine's logits and KV rows, counted
// apart (CommStats::moves).
//
// sum (data-parallel training's gradients) is a reduce-scatter and an
// all-gather written out so that the sum is deterministic: the array is cut
// into one chunk per rank; an all-to-all gives each rank every rank's copy
// of its chunk; it adds them in rank order; an all-gather gives every rank
// every summed chunk. Each value is added by one rank only, so every rank
// gets the same bits (MPI_Allreduce's order is the library's choice), and
// each rank sends 2 (N - 1) / N of the array. A value's sum does not depend
// on how the array was cut, so a gradient summed in buckets (start_sum, as
// the backward pass finishes them) gets the bits of one sum of the whole.
// Sums run as a queue: start_sum starts a bucket's all-to-all; progress()
// and wait_sums() test the queue in order, add a bucket whose all-to-all has
// landed and start its all-gather. The all-to-alls and the all-gathers each
// have a communicator of their own (duplicates of MPI_COMM_WORLD), on which
// every rank starts them in bucket order, as MPI requires of collectives.
//
// Collectives are the non-blocking forms, waited on with MPI_Test and a
// deadline (MPI has no timeout of its own): past it, the rank says where it
// waited and calls MPI_Abort, which ends every rank of the job.
#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "base/error.h"
#include "dist/process_group.h"

namespace frugal::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

class MpiGroup final : public ProcessGroup {
 public:
  explicit MpiGroup(double timeout_seconds) : timeout_(timeout_seconds) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
      fail("expert-parallel: MPI_Init failed");
    // Errors come back as codes, reported here with the step that failed.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // Duplicates keep their error handler (errors returned as codes).
    MPI_Comm_dup(MPI_COMM_WORLD, &scatter_comm_);
    MPI_Comm_dup(MPI_COMM_WORLD, &gather_comm_);
    read_test_fault();
  }
  ~MpiGroup() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Comm_free(&scatter_comm_);
    MPI_Comm_free(&gather_comm_);
    MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int n_ranks() const override { return size_; }
  CommStats stats() const override { return stats_; }

  void share_blocks(float* data, std::span<const int64_t> offsets, int64_t layer) override {
    if (fault_ && fault_rank_ == rank_ && ++collectives_ == fault_at_) inject_test_fault(layer);
    if (offsets.size() == static_cast<size_t>(size_) + 1) {
      int64_t busiest = 0;
      for (size_t q = 0; q + 1 < offsets.size(); ++q) busiest = std::max(busiest, offsets[q + 1] - offsets[q]);
      stats_.floats_computed += static_cast<uint64_t>(offsets[static_cast<size_t>(rank_) + 1] - offsets[static_cast<size_t>(rank_)]);
      stats_.floats_busiest += static_cast<uint64_t>(busiest);
      stats_.floats_all += static_cast<uint64_t>(offsets.back() - offsets.front());
    }
    if (size_ == 1) return;
    const auto t0 = Clock::now();
    counts_.resize(static_cast<size_t>(size_));
    displs_.resize(static_cast<size_t>(size_));
    if (offsets.size() != static_cast<size_t>(size_) + 1) die("layer " + std::to_string(layer) + ": wrong block count");
    if (offsets.back() > INT32_MAX)
      die("layer " + std::to_string(layer) + ": " + std::to_string(offsets.back()) +
          " floats of expert outputs are too many for one exchange (use smaller batches)");
    for (size_t q = 0; q < counts_.size(); ++q) {
      displs_[q] = static_cast<int>(offsets[q]);
      counts_[q] = static_cast<int>(offsets[q + 1] - offsets[q]);
    }
    MPI_Request req;
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts_.data(), displs_.data(), MPI_FLOAT,
                          MPI_COMM_WORLD, &req),
          "exchanging expert outputs", layer);
    wait(req, "exchanging expert outputs", layer);
    ++stats_.exchanges;
    stats_.bytes_sent += static_cast<uint64_t>(counts_[static_cast<size_t>(rank_)]) * static_cast<uint64_t>(size_ - 1) * sizeof(float);
    stats_.seconds += seconds_since(t0);
  }

  void all_to_all(std::span<const float> send, std::span<const int64_t> send_counts, std::vector<float>& recv,
                  std::vector<int64_t>& recv_counts, int64_t layer, int64_t tokens) override {
    if (fault_ && fault_rank_ == rank_ && ++collectives_ == fault_at_) inject_test_fault(layer);
    const bool way_back = !recv_counts.empty();
    const auto t0 = Clock::now();
    const uint64_t to_others = exchange_blocks(
        send, send_counts, recv, recv_counts, way_back ? "returning expert outputs" : "sending rows to their experts' ranks",
        layer);
    ++stats_.exchanges;
    ++stats_.all_to_alls;
    stats_.all_to_all_bytes += to_others;
    stats_.bytes_sent += to_others;
    stats_.tokens_served += static_cast<uint64_t>(tokens);
    if (way_back) stats_.floats_computed += static_cast<uint64_t>(send.size());
    stats_.seconds += seconds_since(t0);
  }

  void move_blocks(std::span<const float> send, std::span<const int64_t> send_counts, std::vector<float>& recv,
                   std::vector<int64_t>& recv_counts, const char* step) override {
    recv_counts.clear();
    const uint64_t to_others = exchange_blocks(send, send_counts, recv, recv_counts, step, -1);
    ++stats_.moves;
    stats_.moved_bytes += to_others;
    stats_.bytes_sent += to_others;
  }

  void sum(float* data, size_t n) override { wait_sums(start(data, n, MPI_FLOAT)); }
  void sum(double* data, size_t n) override { wait_sums(start(data, n, MPI_DOUBLE)); }
  SumHandle start_sum(float* data, size_t n) override { return start(data, n, MPI_FLOAT); }

  void progress() override {
    if (!queue_.empty()) advance_sums();
  }

  void wait_sums(SumHandle h) override {
    if (fault_ && fault_rank_ == rank_ && ++collectives_ == fault_at_) inject_test_fault(-1);
    const auto t0 = Clock::now();
    // A sum's bytes move only inside MPI calls (shared memory has no engine
    // of its own), so its wait polls every 20 us however long it lasts
    // (sleeping 1 ms between polls made a 115 MB sum take 2.5 times longer).
    wait_until([&] { return advance_sums() > h; }, "summing gradients", -1, 20);
    stats_.sum_seconds += seconds_since(t0);
  }

  uint64_t broadcast(uint64_t value) override {
    MPI_Request req;
    check(MPI_Ibcast(&value, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &req), "broadcasting from rank 0", -1);
    wait(req, "broadcasting from rank 0", -1);
    return value;
  }

  void broadcast(std::vector<uint8_t>& bytes, const char* step) override {
    uint64_t size = bytes.size();
    MPI_Request req;
    check(MPI_Ibcast(&size, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &req), step, -1);
    wait(req, step, -1);
    if (size > INT32_MAX) die(std::string(step) + ": a message of " + std::to_string(size) + " bytes is too long");
    bytes.resize(size);
    if (size == 0) return;
    check(MPI_Ibcast(bytes.data(), static_cast<int>(size), MPI_BYTE, 0, MPI_COMM_WORLD, &req), step, -1);
    wait(req, step, -1);
  }

  std::vector<double> gather(const std::vector<double>& values) override {
    std::vector<double> all(rank_ == 0 ? values.size() * static_cast<size_t>(size_) : 0);
    MPI_Request req;
    const int count = static_cast<int>(values.size());
    check(MPI_Igather(values.data(), count, MPI_DOUBLE, all.data(), count, MPI_DOUBLE, 0, MPI_COMM_WORLD, &req),
          "gathering a report", -1);
    wait(req, "gathering a report", -1);
    return all;
  }

 private:
  // One piece of a sum under way: its all-to-all (stage 0), then its
  // all-gather (stage 1), then done.
  struct QueuedSum {
    int64_t id = 0;
    char* data = nullptr;  // the piece, in the caller's array
    MPI_Datatype type = MPI_FLOAT;
    std::vector<int> counts, displs, piece_counts, piece_displs;
    std::vector<char> pieces;  // every rank's copy of this rank's chunk
    MPI_Request req = MPI_REQUEST_NULL;
    int stage = 0;
  };

  // Queues the sum of data (n values) in pieces of at most 2^26 values, so
  // that counts fit an int, and starts each piece's all-to-all. Returns the
  // last piece's id.
  template <typename T>
  SumHandle start(T* data, size_t n, MPI_Datatype type) {
    if (size_ == 1 || n == 0) return next_id_ - 1;
    constexpr size_t kPiece = size_t{1} << 26;
    const size_t nr = static_cast<size_t>(size_);
    for (size_t at = 0; at < n; at += kPiece) {
      const size_t len = std::min(kPiece, n - at);
      QueuedSum q;
      q.id = next_id_++;
      q.data = reinterpret_cast<char*>(data + at);
      q.type = type;
      q.counts.resize(nr), q.displs.resize(nr), q.piece_counts.resize(nr), q.piece_displs.resize(nr);
      for (size_t r = 0; r < nr; ++r) {
        const size_t b = len * r / nr, e = len * (r + 1) / nr;
        q.displs[r] = static_cast<int>(b);
        q.counts[r] = static_cast<int>(e - b);
      }
      const int mine = q.counts[static_cast<size_t>(rank_)];
      for (size_t r = 0; r < nr; ++r) {
        q.piece_counts[r] = mine;
        q.piece_displs[r] = static_cast<int>(r) * mine;
      }
      q.pieces.resize(nr * static_cast<size_t>(mine) * sizeof(T));
      check(MPI_Ialltoallv(q.data, q.counts.data(), q.displs.data(), type, q.pieces.data(), q.piece_counts.data(),
                           q.piece_displs.data(), type, scatter_comm_, &q.req),
            "summing gradients", -1);
      stats_.bytes_sent += (static_cast<uint64_t>(len) - static_cast<uint64_t>(mine) +
                            static_cast<uint64_t>(mine) * (nr - 1)) * sizeof(T);
      ++stats_.sums;
      queue_.push_back(std::move(q));
    }
    return next_id_ - 1;
  }

  // Moves the queue on without waiting: in queue order, a piece whose
  // all-to-all has landed is added (its chunk, in rank order) and its
  // all-gather started; a piece whose all-gather has landed leaves the queue.
  // All-gathers start in queue order (every rank starts them in the same
  // order on gather_comm_), so the first piece still in its all-to-all
  // stops the walk. Returns the id of the oldest piece not done.
  int64_t advance_sums() {
    bool gathers_may_start = true;
    for (QueuedSum& q : queue_) {
      if (q.stage == 2) continue;
      int done = 0;
      check(MPI_Test(&q.req, &done, MPI_STATUS_IGNORE), q.stage == 0 ? "summing gradients" : "gathering summed gradients",
            -1);
      if (!done) {
        if (q.stage == 0) gathers_may_start = false;
        continue;
      }
      if (q.stage == 1) {
        q.stage = 2;
        continue;
      }
      if (q.stage != 0 || !gathers_may_start) continue;
      if (q.type == MPI_FLOAT) add_in_rank_order<float>(q);
      else add_in_rank_order<double>(q);
      check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, q.data, q.counts.data(), q.displs.data(), q.type,
                            gather_comm_, &q.req),
            "gathering summed gradients", -1);
      q.stage = 1;
    }
    while (!queue_.empty() && queue_.front().stage == 2) queue_.pop_front();
    return queue_.empty() ? next_id_ : queue_.front().id;
  }

  // This rank's chunk of q: every rank's copy added in rank order, so that
  // each value's sum is the same bits however the array was cut.
  template <typename T>
  void add_in_rank_order(QueuedSum& q) {
    const size_t nr = static_cast<size_t>(size_), mine = static_cast<size_t>(q.counts[static_cast<size_t>(rank_)]);
    const T* pieces = reinterpret_cast<const T*>(q.pieces.data());
    T* out = reinterpret_cast<T*>(q.data) + q.displs[static_cast<size_t>(rank_)];
    for (size_t i = 0; i < mine; ++i) {
      T acc = pieces[i];
      for (size_t r = 1; r < nr; ++r) acc += pieces[r * mine + i];
      out[i] = acc;
    }
  }

  // The counts (one per pair of ranks) by MPI_Ialltoall when recv_counts
  // is empty, then the blocks by MPI_Ialltoallv. One rank: the block to
  // itself. Returns the bytes this rank sent to other ranks.
  uint64_t exchange_blocks(std::span<const float> send, std::span<const int64_t> send_counts, std::vector<float>& recv,
                           std::vector<int64_t>& recv_counts, const std::string& step, int64_t layer) {
    const size_t nr = static_cast<size_t>(size_);
    const bool counts_known = !recv_counts.empty();
    int64_t total_sent = 0;
    for (int64_t c : send_counts) total_sent += c;
    if (send_counts.size() != nr || static_cast<size_t>(total_sent) != send.size() ||
        (counts_known && recv_counts.size() != nr))
      die(where(step, layer) + ": wrong block counts");
    if (!counts_known) {
      recv_counts.assign(nr, 0);
      if (size_ == 1) {
        recv_counts[0] = send_counts[0];
      } else {
        MPI_Request req;
        check(MPI_Ialltoall(send_counts.data(), 1, MPI_INT64_T, recv_counts.data(), 1, MPI_INT64_T, MPI_COMM_WORLD, &req),
              step, layer);
        wait(req, step, layer);
      }
    }
    int64_t total = 0;
    for (int64_t c : recv_counts) total += c;
    recv.resize(static_cast<size_t>(total));
    if (size_ == 1) {
      std::copy(send.begin(), send.end(), recv.begin());
      return 0;
    }
    if (total_sent > INT32_MAX || total > INT32_MAX)
      die(where(step, layer) + ": " + std::to_string(std::max(total_sent, total)) +
          " floats are too many for one exchange (use smaller batches)");
    std::vector<int> sc(nr), sd(nr), rc(nr), rd(nr);
    for (size_t q = 0, s_at = 0, r_at = 0; q < nr; ++q) {
      sc[q] = static_cast<int>(send_counts[q]), sd[q] = static_cast<int>(s_at), s_at += send_counts[q];
      rc[q] = static_cast<int>(recv_counts[q]), rd[q] = static_cast<int>(r_at), r_at += recv_counts[q];
    }
    MPI_Request req;
    check(MPI_Ialltoallv(send.data(), sc.data(), sd.data(), MPI_FLOAT, recv.data(), rc.data(), rd.data(), MPI_FLOAT,
                         MPI_COMM_WORLD, &req),
          step, layer);
    wait(req, step, layer);
    return static_cast<uint64_t>(total_sent - send_counts[static_cast<size_t>(rank_)]) * sizeof(float);
  }

  std::string where(const std::string& step, int64_t layer) const {
    return layer >= 0 ? step + " in layer " + std::to_string(layer) : step;
  }

  [[noreturn]] void die(const std::string& why) const {
    std::fprintf(stderr, "error: expert-parallel rank %d of %d: %s; ending the job\n", rank_, size_, why.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

  void check(int rc, const std::string& step, int64_t layer) const {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    die(where(step, layer) + ": " + std::string(text, static_cast<size_t>(len)));
  }

  // Polls req until done.
  void wait(MPI_Request& req, const std::string& step, int64_t layer) const {
    wait_until(
        [&] {
          int done = 0;
          check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), step, layer);
          return done != 0;
        },
        step, layer);
  }

  // Polls done() until it holds. Short waits spin (a decode step's exchange
  // takes microseconds); longer ones yield the core and then sleep, since
  // ranks may share cores (several ranks on one machine): 20 us at first,
  // longest_sleep_us past 0.1 s.
  template <typename Done>
  void wait_until(Done&& done, const std::string& step, int64_t layer, int longest_sleep_us = 1000) const {
    const auto t0 = Clock::now();
    for (int64_t i = 0;; ++i) {
      if (done()) return;
      if (i < 64) continue;
      const double waited = seconds_since(t0);
      if (waited > timeout_) {
        char what[64];
        std::snprintf(what, sizeof what, "no answer from the other ranks in %.0f s", timeout_);
        die(where(step, layer) + ": " + what + " (a rank has died or stalled)");
      }
      if (waited < 1e-3) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(waited < 0.1 ? 20 : longest_sleep_us));
      }
    }
  }

  // FRUGAL_TEST_RANK_FAULT=exit:R[:K] or stall:R[:K]: rank R exits, or
  // stops answering, at its K-th exchange or sum (default: the first). Only
  // the tests set it (a dead or stuck rank must end the job with a clear
  // error, not hang it; a training run cut short resumes).
  void read_test_fault() {
    const char* f = std::getenv("FRUGAL_TEST_RANK_FAULT");
    if (!f) return;
    const std::string s = f;
    const size_t colon = s.find(':');
    if (colon == std::string::npos) return;
    fault_ = s.substr(0, colon) == "exit" ? 1 : s.substr(0, colon) == "stall" ? 2 : 0;
    fault_rank_ = std::atoi(s.c_str() + colon + 1);
    const size_t second = s.find(':', colon + 1);
    if (second != std::string::npos) fault_at_ = std::atoll(s.c_str() + second + 1);
  }
  [[noreturn]] void inject_test_fault(int64_t layer) const {
    std::fprintf(stderr, "rank %d: FRUGAL_TEST_RANK_FAULT: %s at %s %lld\n", rank_, fault_ == 1 ? "exiting" : "stalling",
                 layer >= 0 ? "MoE layer" : "sum", static_cast<long long>(layer >= 0 ? layer : collectives_));
    std::fflush(stderr);
    if (fault_ == 1) std::_Exit(3);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  double timeout_;
  int rank_ = 0, size_ = 1;
  int fault_ = 0, fault_rank_ = -1;
  int64_t fault_at_ = 1, collectives_ = 0;
  std::vector<int> counts_, displs_;
  CommStats stats_;
  // Sums under way, oldest first, and the communicators of their two halves.
  std::deque<QueuedSum> queue_;
  int64_t next_id_ = 0;
  MPI_Comm scatter_comm_ = MPI_COMM_NULL, gather_comm_ = MPI_COMM_NULL;
};

}  // namespace

bool ProcessGroup::available() { return true; }

ProcessGroup& ProcessGroup::join(double timeout_seconds) {
  if (!(timeout_seconds > 0)) fail("expert-parallel: the timeout must be positive (got ", timeout_seconds, ")");
  static std::unique_ptr<MpiGroup> group;
  if (!group) group = std::make_unique<MpiGroup>(timeout_seconds);
  return *group;
}

}  // namespace frugal::dist
