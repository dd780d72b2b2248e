// Continuous batching: every request holds one of the engine's sequence
// slots while it runs, and each forward call carries one decode row for every
// running request plus chunks of the prompts being read, up to n_batch rows.
// A request that arrives joins the next step; one that ends frees its slot at
// once. Decode rows go first, so a long prompt arriving delays running
// streams by at most one chunk per step (chunked prefill).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/completion.h"
#include "runtime/engine.h"
#include "server/metrics.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server {

// One request's completion, shared by the HTTP handler (which reads its text)
// and the scheduler thread (which writes it).
class Job {
 public:
  struct Chunk {
    std::string text;       // text made since the last take (may be empty)
    std::vector<runtime::TokenLogprob> logprobs;  // tokens sampled since the last take (params.logprobs >= 0)
    bool done = false;      // the completion has ended: stats() and error() are final
  };
  // Waits up to `timeout` for new text or the end.
  Chunk take(std::chrono::milliseconds timeout);
  // Asks the scheduler to stop this completion (the client went away).
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  const runtime::GenerateStats& stats() const { return stats_; }
  const std::string& error() const { return error_; }  // non-empty: the completion failed
  // echo with logprobs: the log-probability of each prompt token after the
  // first (given the tokens before it), complete once the prompt is read,
  // which is before the job's first text or its end.
  std::vector<runtime::TokenLogprob> prompt_logprobs();

 private:
  friend class Scheduler;
  void push_text(std::string_view text);
  void push_logprobs(const std::vector<runtime::TokenLogprob>& all);  // those after the ones already pushed
  void end(const runtime::GenerateStats& stats, std::string error);

  std::vector<int32_t> prompt_;
  int prompt_top_ = -1;  // >= 0: the prompt's log-probabilities are wanted, with this many alternatives
  std::vector<runtime::TokenLogprob> prompt_logprobs_;  // under mu_
  std::shared_ptr<const void> hold_;  // declared before completion_, whose params point into it: destroyed after
  std::optional<runtime::Completion> completion_;
  std::chrono::steady_clock::time_point queued_at_;  // where time to first token starts
  std::mutex mu_;
  std::mutex step_mu_;  // held through each step(): the engine's counts are read between steps
  std::condition_variable cv_;
  std::string pending_;
  std::vector<runtime::TokenLogprob> pending_logprobs_;
  size_t logprobs_pushed_ = 0;
  // n choices of one prompt: the first choice's job leads, and the others
  // copy its cache when its prompt is read instead of reading it again.
  std::shared_ptr<Job> leader_;
  int group_ = 1;  // the leader: jobs in its group (itself included), admitted together
  bool done_ = false;
  runtime::GenerateStats stats_;
  std::string error_;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
  int n_batch = 512;      // rows per forward call at most (>= the engine's sequence slots)
  int max_queued = 64;    // requests waiting for a slot before new ones are refused
};

class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Scheduler {
 public:
  // Starts the scheduling thread. The engine's sequence slots are the
  // requests that run at once.
  Scheduler(runtime::Engine& engine, const tokenizer::Tokenizer& tok, SchedulerOptions opts, Metrics& metrics);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks the prompt and parameters (frugal::Error: the request is bad) and
  // queues the completion (QueueFull: too many waiting). params.seq and
  // params.n_past are the scheduler's to set.
  std::shared_ptr<Job> submit(std::vector<int32_t> prompt, runtime::GenerateParams params);
  // n choices of one prompt (one params each, at most n_slots()): the prompt
  // is read once and its cache copied to the other choices' slots.
  // `prompt_top` >= 0: the first choice also gives the prompt's own
  // log-probabilities (Job::prompt_logprobs); its prompt is then computed
  // whole, not taken from the prefix cache. `hold`: what the jobs keep alive
  // while they live (the LoRA adapter their params point to, which the
  // server may stop serving meanwhile).
  std::vector<std::shared_ptr<Job>> submit_choices(std::vector<int32_t> prompt,
                                                   const std::vector<runtime::GenerateParams>& choices,
                                                   int prompt_top = -1, std::shared_ptr<const void> hold = nullptr);

  // Ends the thread; queued and running completions end with an error.
  void stop();

  int n_ctx() const { return engine_.n_ctx(); }
  int n_slots() const { return engine_.n_seq_max(); }
  const model::Model& model() const { return engine_.model(); }
  // The rows routed to each expert since the server started
  // (runtime::Engine::expert_rows), read between two forward calls.
  std::vector<uint64_t> expert_rows();

 private:
  struct Running {
    std::shared_ptr<Job> job;
    int32_t seq = 0;
    size_t fed = 0;  // prompt rows already in the cache (the reused prefix included)
    std::vector<int32_t> blocks;   // its prefix-cache chain, pinned: positions [0, blocks * block size)
    bool chain_closed = false;     // the pool had no room: cache no more of this sequence
    std::optional<std::chrono::steady_clock::time_point> last_token;  // when its last token was sampled
    bool decoding() const { return fed == job->prompt_.size(); }
  };

  void loop();
  void admit();           // moves queued jobs into free slots (mu_ held)
  int32_t take_free_slot();  // a free slot, on the rank with the fewest running (Engine::owner)
  void step();            // one forward call over the running jobs
  void finish(Running& r, std::string error = "");
  void time_token(Running& r);
  bool waits_for_leader(const Running& r) const;
  // Rows of a prompt chunk whose logits give the prompt's log-probabilities.
  struct PromptScores {
    size_t running, first_pos, first_row, n;
  };
  void score_prompt(const PromptScores& s);  // a choice whose leader is still reading the prompt  // a token was just sampled: the latency metrics
  void cache_blocks(Running& r);  // offers the sequence's newly completed blocks to the prefix cache
  void count_blocks();            // the KV block gauges

  runtime::Engine& engine_;
  const tokenizer::Tokenizer& tok_;
  SchedulerOptions opts_;
  Metrics& metrics_;

  std::mutex mu_;
  std::mutex step_mu_;  // held through each step(): the engine's counts are read between steps
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::vector<Running> running_;     // the scheduler thread's only
  std::vector<int32_t> free_seqs_;
  std::atomic<int> n_running_{0};    // jobs holding a slot (read by submit)
  std::vector<runtime::BatchRow> rows_;
  std::vector<float> logits_;
  std::thread thread_;
};

}  // namespace frugal::server
