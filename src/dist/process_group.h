// The distributed layer: the processes that `mpirun -np N frugal ...`
// started, as one group. It implements model::ExpertParallel (inference)
// and train::GradientSum (data-parallel training) over MPI_COMM_WORLD (src/dist/process_group_mpi.cc) when frugal is built with
// OpenMPI (the CMake option FRUGAL_MPI, on when MPI is found); otherwise
// join() is a clear error (process_group_none.cc). Nothing outside src/dist/
// includes mpi.h.
//
// Every wait on the other ranks has a deadline: a rank that died or stalled
// makes the others print which step they were waiting at and end the whole
// job (MPI_Abort), instead of hanging.
#pragma once
#include <cstdint>
#include <vector>

#include "model/expert_parallel.h"
#include "train/data_parallel.h"

namespace frugal::dist {

// What a group's communication cost this rank since it joined.
struct CommStats {
  int64_t exchanges = 0;    // share_blocks and all_to_all calls (one or two per MoE layer per forward pass)
  uint64_t bytes_sent = 0;  // by this rank, in them and in sums
  double seconds = 0;       // in exchanges, waiting for slower ranks included
  uint64_t floats_computed = 0;  // rows its experts computed x n_embd (in its own blocks, or sent back)
  uint64_t floats_busiest = 0;   // the largest rank's block of each exchange, summed (the same on every rank)
  uint64_t floats_all = 0;       // every rank's blocks of each exchange, summed (the same on every rank)
  int64_t all_to_alls = 0;       // all_to_all calls (attention data-parallel: two per MoE layer per forward pass)
  uint64_t all_to_all_bytes = 0;  // sent by this rank in them to other ranks (also in bytes_sent)
  uint64_t tokens_served = 0;     // the rows of its batches they served, summed over the MoE layers
  int64_t moves = 0;              // move_blocks calls (attention data-parallel serving: logits, KV rows)
  uint64_t moved_bytes = 0;       // sent by this rank in them to other ranks (also in bytes_sent)
  int64_t sums = 0;         // sum calls (training: gradients, losses)
  double sum_seconds = 0;   // in them, waiting included
};

class ProcessGroup : public model::ExpertParallel, public train::GradientSum {
 public:
  int rank() const override = 0;
  int n_ranks() const override = 0;

  // Joins the job (initialises MPI on the first call; later calls return the
  // same group and ignore the argument). timeout_seconds: how long one
  // collective may wait for the other ranks. Throws frugal::Error when frugal
  // was built without MPI.
  static ProcessGroup& join(double timeout_seconds);
  // Whether this build has the MPI implementation.
  static bool available();

  // Rank 0's value, on every rank.
  virtual uint64_t broadcast(uint64_t value) = 0;
  // Rank 0's bytes, on every rank (the others' `bytes` are replaced).
  // `step` says what a rank that waits too long was waiting for.
  virtual void broadcast(std::vector<uint8_t>& bytes, const char* step) = 0;
  // On rank 0: every rank's `values` (all of the same length), rank by rank;
  // on the others: empty.
  virtual std::vector<double> gather(const std::vector<double>& values) = 0;
  virtual CommStats stats() const = 0;
};

}  // namespace frugal::dist
