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
// Collectives are the non-blocking forms, waited on with MPI_Test and a
// deadline (MPI has no timeout of its own): past it, the rank says where it
// waited and calls MPI_Abort, which ends every rank of the job.
#include <mpi.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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
    read_test_fault();
  }
  ~MpiGroup() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int n_ranks() const override { return size_; }
  CommStats stats() const override { return stats_; }

  void share_blocks(float* data, std::span<const int64_t> offsets, int64_t layer) override {
    if (fault_ && fault_rank_ == rank_) inject_test_fault(layer);
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

  uint64_t broadcast(uint64_t value) override {
    MPI_Request req;
    check(MPI_Ibcast(&value, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &req), "broadcasting from rank 0", -1);
    wait(req, "broadcasting from rank 0", -1);
    return value;
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

  // Polls req until done. Short waits spin (a decode step's exchange takes
  // microseconds); longer ones yield the core and then sleep, since ranks
  // may share cores (several ranks on one machine).
  void wait(MPI_Request& req, const std::string& step, int64_t layer) const {
    const auto t0 = Clock::now();
    for (int64_t i = 0;; ++i) {
      int done = 0;
      check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), step, layer);
      if (done) return;
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
        std::this_thread::sleep_for(std::chrono::microseconds(waited < 0.1 ? 20 : 1000));
      }
    }
  }

  // FRUGAL_TEST_RANK_FAULT=exit:R or stall:R: rank R exits, or stops
  // answering, at its first MoE layer. Only the tests set it (a dead or
  // stuck rank must end the job with a clear error, not hang it).
  void read_test_fault() {
    const char* f = std::getenv("FRUGAL_TEST_RANK_FAULT");
    if (!f) return;
    const std::string s = f;
    const size_t colon = s.find(':');
    if (colon == std::string::npos) return;
    fault_ = s.substr(0, colon) == "exit" ? 1 : s.substr(0, colon) == "stall" ? 2 : 0;
    fault_rank_ = std::atoi(s.c_str() + colon + 1);
  }
  [[noreturn]] void inject_test_fault(int64_t layer) const {
    std::fprintf(stderr, "rank %d: FRUGAL_TEST_RANK_FAULT: %s at MoE layer %lld\n", rank_,
                 fault_ == 1 ? "exiting" : "stalling", static_cast<long long>(layer));
    std::fflush(stderr);
    if (fault_ == 1) std::_Exit(3);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  double timeout_;
  int rank_ = 0, size_ = 1;
  int fault_ = 0, fault_rank_ = -1;
  std::vector<int> counts_, displs_;
  CommStats stats_;
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
