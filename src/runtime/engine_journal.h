// One engine driven by another: the leader's engine records every change it
// makes to its state (sequences cleared and copied, prefix-cache blocks
// reused, added and released) and every forward pass, and sends them in
// order to follower engines, which apply the same operations in lockstep.
// `mpirun -np N frugal serve --expert-parallel` runs the server's scheduler
// on rank 0 only; the other ranks follow its engine, so that every forward
// pass (and the expert exchange inside it) runs on every rank with the same
// rows, and every rank's caches hold the same bits.
//
// A message is the operations recorded since the last one, ending with a
// forward pass's rows, a keep-alive (the leader is idle) or the stop. The
// results the leader got (a reused prefix, a cached block) travel with the
// operations, and a follower that gets another result ends with an error
// rather than computing on caches that have parted.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "model/forward.h"

namespace frugal::runtime {

class Engine;

// Carries one message from the leader to every follower: on the leader it
// sends `bytes`, on a follower it replaces them with the leader's. It ends
// the process with an error when the other side does not answer in time.
using JournalChannel = std::function<void(std::vector<uint8_t>& bytes)>;

class EngineJournal {
 public:
  // Attaches itself to `engine` (the leader's) and sends the engine's shape,
  // which the followers check against their own. While nothing else is
  // sent, a keep-alive goes out every `keep_alive` (the followers' wait for
  // the next message has a deadline).
  EngineJournal(Engine& engine, JournalChannel send, std::chrono::milliseconds keep_alive);
  ~EngineJournal();  // stop(false)
  EngineJournal(const EngineJournal&) = delete;
  EngineJournal& operator=(const EngineJournal&) = delete;

  // Sends the stop (the followers return `finished` from follow_engine),
  // detaches from the engine and ends the keep-alive thread; later records
  // are dropped. finished: the leader ends normally (and may go on to talk
  // to the followers, a report); false: it ends on an error.
  void stop(bool finished);

  // Called by the leader's engine after each change of its state.
  void clear_sequence(int32_t seq);
  void copy_sequence(int32_t src, int32_t dst);
  void reuse_prefix(int32_t seq, std::span<const int32_t> tokens, std::span<const int32_t> chain, int32_t reused);
  // `block`: the block appended to the chain, -1 when none was.
  void cache_block(int32_t seq, std::span<const int32_t> tokens, std::span<const int32_t> chain_before, int32_t block);
  void release_blocks(std::span<const int32_t> chain);
  // Sends what was recorded and this forward pass's rows (rows with a LoRA
  // adapter are refused: a follower could not name it). The lock returned
  // keeps the keep-alive thread quiet while the leader runs the pass, since
  // the pass talks to the followers too.
  [[nodiscard]] std::unique_lock<std::mutex> forward(std::span<const model::BatchRow> rows);

 private:
  void put(std::initializer_list<int32_t> words);
  void put(std::span<const int32_t> list);  // its length, then its values
  void send_locked();                        // sends pending_ (mu_ held)
  void keep_alive_loop();

  Engine& engine_;
  JournalChannel send_;
  std::chrono::milliseconds keep_alive_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int32_t> pending_;  // the records not yet sent
  std::vector<uint8_t> bytes_;
  std::chrono::steady_clock::time_point last_sent_;
  bool stopped_ = false;
  std::thread keep_alive_thread_;
};

// A follower: receives the leader's messages through `receive` and applies
// them to `engine` (configured as the leader's: the same model, context,
// sequence slots and prefix cache) until the leader stops; returns the
// leader's `finished` (EngineJournal::stop). frugal::Error
// when the engines differ in shape, a result differs from the leader's or a
// message is malformed.
bool follow_engine(Engine& engine, const JournalChannel& receive);

}  // namespace frugal::runtime
