#include "server/scheduler.h"

#include <algorithm>
#include <chrono>

#include "base/error.h"
#include "base/log.h"
#include "runtime/prefix_cache.h"

namespace frugal::server {

Job::Chunk Job::take(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return done_ || !pending_.empty(); });
  Chunk c;
  c.text.swap(pending_);
  c.logprobs.swap(pending_logprobs_);
  c.done = done_;
  return c;
}

void Job::push_text(std::string_view text) {
  {
    std::lock_guard lk(mu_);
    pending_ += text;
  }
  cv_.notify_all();
}

void Job::push_logprobs(const std::vector<runtime::TokenLogprob>& all) {
  if (all.size() <= logprobs_pushed_) return;
  {
    std::lock_guard lk(mu_);
    pending_logprobs_.insert(pending_logprobs_.end(), all.begin() + static_cast<std::ptrdiff_t>(logprobs_pushed_), all.end());
  }
  logprobs_pushed_ = all.size();
  cv_.notify_all();
}

std::vector<runtime::TokenLogprob> Job::prompt_logprobs() {
  std::lock_guard lk(mu_);
  return prompt_logprobs_;
}

void Job::end(const runtime::GenerateStats& stats, std::string error) {
  {
    std::lock_guard lk(mu_);
    stats_ = stats;
    error_ = std::move(error);
    done_ = true;
  }
  cv_.notify_all();
}

Scheduler::Scheduler(runtime::Engine& engine, const tokenizer::Tokenizer& tok, SchedulerOptions opts, Metrics& metrics)
    : engine_(engine), tok_(tok), opts_(opts), metrics_(metrics) {
  if (opts_.n_batch < engine.n_seq_max())
    fail("serve: the batch (", opts_.n_batch, " rows) must hold a row for each of the ", engine.n_seq_max(),
         " parallel sequences");
  if (opts_.max_queued < 0) fail("serve: the queue limit must not be negative");
  for (int32_t s = engine.n_seq_max() - 1; s >= 0; --s) free_seqs_.push_back(s);
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<Job> Scheduler::submit(std::vector<int32_t> prompt, runtime::GenerateParams params) {
  return submit_choices(std::move(prompt), {std::move(params)}).front();
}

std::vector<std::shared_ptr<Job>> Scheduler::submit_choices(std::vector<int32_t> prompt,
                                                            const std::vector<runtime::GenerateParams>& choices,
                                                            int prompt_top, std::shared_ptr<const void> hold) {
  if (choices.empty() || static_cast<int>(choices.size()) > engine_.n_seq_max())
    fail("serve: ", choices.size(), " choices, and ", engine_.n_seq_max(), " run at once at most");
  std::vector<std::shared_ptr<Job>> jobs;
  for (runtime::GenerateParams params : choices) {
    params.seq = 0;
    params.n_past = 0;
    runtime::check_completion(prompt, params, engine_.n_vocab(), engine_.n_ctx(), engine_.n_seq_max());
    auto job = std::make_shared<Job>();
    job->prompt_ = prompt;
    job->queued_at_ = std::chrono::steady_clock::now();
    job->completion_.emplace(tok_, engine_.n_vocab(), engine_.n_ctx(), job->prompt_, params);  // checks sampling
    job->hold_ = hold;
    if (!jobs.empty()) job->leader_ = jobs.front();
    jobs.push_back(std::move(job));
  }
  jobs.front()->group_ = static_cast<int>(jobs.size());
  jobs.front()->prompt_top_ = prompt_top;
  {
    std::lock_guard lk(mu_);
    if (stopping_) fail("serve: the server is shutting down");
    // Requests that a free slot will take at the next step are not waiting:
    // a burst that arrives before the scheduler thread wakes must not be
    // refused while slots are free.
    const int free_slots = std::max(0, engine_.n_seq_max() - n_running_.load());
    if (static_cast<int>(queue_.size()) >= opts_.max_queued + free_slots)
      throw QueueFull("the server is busy: " + std::to_string(queue_.size() - static_cast<size_t>(free_slots)) +
                      " requests are waiting; retry later");
    for (const auto& job : jobs) queue_.push_back(job);
    // The gauge counts what waits, as the refusal above does: not the burst a free slot takes next.
    metrics_.requests_queued = std::max<int64_t>(0, static_cast<int64_t>(queue_.size()) - free_slots);
  }
  ++metrics_.requests_total;
  cv_.notify_all();
  return jobs;
}

// Under attention data-parallel serving each slot is computed on one rank
// (Engine::owner): a new request goes to the rank with the fewest running,
// so that the ranks' shares of every step stay even. Otherwise, and among
// a rank's slots, the slot freed last.
int32_t Scheduler::take_free_slot() {
  std::vector<int> live;
  for (const Running& r : running_) {
    const size_t q = static_cast<size_t>(engine_.owner(r.seq));
    if (live.size() <= q) live.resize(q + 1, 0);
    ++live[q];
  }
  auto live_on = [&](int32_t seq) {
    const size_t q = static_cast<size_t>(engine_.owner(seq));
    return q < live.size() ? live[q] : 0;
  };
  size_t best = free_seqs_.size() - 1;
  for (size_t i = free_seqs_.size() - 1; i-- > 0;)
    if (live_on(free_seqs_[i]) < live_on(free_seqs_[best])) best = i;
  const int32_t seq = free_seqs_[best];
  free_seqs_.erase(free_seqs_.begin() + static_cast<std::ptrdiff_t>(best));
  return seq;
}

void Scheduler::admit() {
  // A group of choices takes its slots together (its followers queue right behind it).
  while (!queue_.empty() && free_seqs_.size() >= static_cast<size_t>(queue_.front()->group_)) {
    Running r;
    r.job = std::move(queue_.front());
    queue_.pop_front();
    r.seq = take_free_slot();
    ++n_running_;
    engine_.clear_sequence(r.seq);
    // The longest cached prefix of the prompt is copied in, not computed;
    // the completion counts it as reused (usage's cached_tokens).
    // (Not when the prompt's own log-probabilities are wanted: they come from its logits.
    // Nor for a request with its own adapter: the cache holds the base model's keys and values.)
    const bool own_adapter = r.job->completion_->params().lora != nullptr;
    const int32_t reused =
        r.job->prompt_top_ >= 0 || own_adapter ? 0 : engine_.reuse_prefix(r.seq, r.job->prompt_, r.blocks);
    r.fed = static_cast<size_t>(reused);
    metrics_.prompt_tokens_requested_total += r.job->prompt_.size();
    metrics_.prompt_tokens_cached_total += static_cast<uint64_t>(reused);
    // The prompt clock starts when the request gets its slot: queueing time
    // is the server's load, not the model's speed.
    runtime::GenerateParams params = r.job->completion_->params();  // a copy: emplace destroys the old one first
    params.n_past = reused;
    r.job->completion_.emplace(tok_, engine_.n_vocab(), engine_.n_ctx(), r.job->prompt_, params);
    running_.push_back(std::move(r));
  }
  metrics_.requests_queued = static_cast<int64_t>(queue_.size());
  metrics_.requests_running = static_cast<int64_t>(running_.size());
  count_blocks();
}

void Scheduler::count_blocks() {
  const runtime::PrefixCache* pc = engine_.prefix_cache();
  metrics_.kv_blocks_used = pc ? pc->n_used() : 0;
  metrics_.kv_blocks_total = pc ? pc->n_blocks() : 0;
}

void Scheduler::cache_blocks(Running& r) {
  const runtime::PrefixCache* pc = engine_.prefix_cache();
  // A request's own adapter makes keys and values the prefix cache must not
  // give to others (it is keyed by tokens alone).
  if (!pc || r.chain_closed || r.job->completion_->params().lora) return;
  const size_t bt = static_cast<size_t>(pc->block_tokens());
  const std::vector<int32_t>& prompt = r.job->prompt_;
  const std::vector<int32_t>& generated = r.job->completion_->stats().tokens;
  const size_t cached = static_cast<size_t>(engine_.sequence_length(r.seq));
  // Generated tokens are cached too (a conversation's next turn starts with
  // this answer). Position p holds prompt[p], then generated[p - prompt size].
  std::vector<int32_t> block(bt);
  while (!r.chain_closed && (r.blocks.size() + 1) * bt <= cached) {
    const size_t p0 = r.blocks.size() * bt;
    for (size_t k = 0; k < bt; ++k) {
      const size_t p = p0 + k;
      block[k] = p < prompt.size() ? prompt[p] : generated[p - prompt.size()];
    }
    r.chain_closed = !engine_.cache_block(r.seq, block, r.blocks);
  }
}

void Scheduler::finish(Running& r, std::string error) {
  runtime::Completion& c = *r.job->completion_;
  if (error.empty() && !r.job->cancelled()) {
    runtime::GenerateCallbacks cb;
    cb.on_text = [&r](std::string_view t) {
      r.job->push_text(t);
      return !r.job->cancelled();
    };
    c.finish(cb);
  } else {
    c.cancel();
    c.finish({});
  }
  if (r.job->cancelled()) ++metrics_.requests_cancelled;
  metrics_.generated_tokens_total += static_cast<uint64_t>(c.stats().n_generated);
  engine_.release_blocks(r.blocks);  // before end(): whoever sees the job done sees its blocks unpinned
  r.job->end(c.stats(), std::move(error));
  engine_.clear_sequence(r.seq);
  free_seqs_.push_back(r.seq);
  --n_running_;
  r.job.reset();
}

void Scheduler::time_token(Running& r) {
  const auto now = std::chrono::steady_clock::now();
  const auto since = [&](std::chrono::steady_clock::time_point t) { return std::chrono::duration<double>(now - t).count(); };
  if (r.last_token) metrics_.inter_token_latency.observe(since(*r.last_token));
  else metrics_.time_to_first_token.observe(since(r.job->queued_at_));
  r.last_token = now;
}

bool Scheduler::waits_for_leader(const Running& r) const {
  if (!r.job->leader_) return false;
  for (const Running& l : running_)
    if (l.job == r.job->leader_) return !l.decoding();
  return false;  // the leader has gone (cancelled): this choice reads the prompt itself
}

std::vector<uint64_t> Scheduler::expert_rows() {
  std::lock_guard step_lock(step_mu_);
  return engine_.expert_rows();
}

void Scheduler::step() {
  // Rows: a decode row for each running completion, then prompt chunks in
  // arrival order with what is left of n_batch. owners[i]: the running entry
  // whose logits are row i of logits_.
  rows_.clear();
  std::vector<size_t> owners, owner_rows;  // owner_rows[k]: the logits row of owners[k]
  std::vector<PromptScores> scores;
  size_t logit_rows = 0;
  int budget = opts_.n_batch;
  for (size_t i = 0; i < running_.size(); ++i) {
    Running& r = running_[i];
    if (!r.decoding()) continue;
    const runtime::Completion& c = *r.job->completion_;
    rows_.push_back({r.seq, c.next_pos(), c.next_token(), true, c.params().lora});
    owners.push_back(i);
    owner_rows.push_back(logit_rows++);
    --budget;
  }
  std::vector<std::pair<size_t, size_t>> fed;  // (running index, prompt rows added)
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Running& r = running_[i];
    if (r.decoding() || waits_for_leader(r)) continue;
    const std::vector<int32_t>& p = r.job->prompt_;
    const size_t n = std::min(p.size() - r.fed, static_cast<size_t>(budget));
    const bool score = r.job->prompt_top_ >= 0;
    if (score) scores.push_back({i, r.fed, logit_rows, n});
    for (size_t k = r.fed; k < r.fed + n; ++k) {
      const bool last = k + 1 == p.size();
      rows_.push_back({r.seq, static_cast<int32_t>(k), p[k], last || score, r.job->completion_->params().lora});
      if (last) owners.push_back(i), owner_rows.push_back(logit_rows);
      if (last || score) ++logit_rows;
    }
    fed.emplace_back(i, n);
    budget -= static_cast<int>(n);
  }
  if (rows_.empty()) return;

  const auto t0 = std::chrono::steady_clock::now();
  try {
    engine_.forward(rows_, logits_);
  } catch (const std::exception& e) {
    // Rows are checked before any work, so the caches are unchanged; every
    // completion in this batch fails with the reason rather than the server.
    log_warn("serve: a batch failed: ", e.what());
    for (Running& r : running_) finish(r, std::string("the batch failed: ") + e.what());
    running_.clear();
    return;
  }
  metrics_.forward_microseconds += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
  ++metrics_.batches_total;
  metrics_.batch_rows_total += rows_.size();
  for (auto [i, n] : fed) {
    running_[i].fed += n;
    metrics_.prompt_tokens_total += n;
  }
  // Choices whose leader has just read the prompt copy its cache and sample
  // from its logits. rows[k]: the logits row of owners[k].
  for (const PromptScores& s : scores) score_prompt(s);
  std::vector<size_t> rows = owner_rows;
  for (size_t k = 0, n = owners.size(); k < n; ++k) {
    const Running& l = running_[owners[k]];
    if (l.job->completion_->stats().n_generated != 0) continue;  // a decode row, not the prompt's end
    for (size_t i = 0; i < running_.size(); ++i) {
      Running& f = running_[i];
      if (f.job->leader_ != l.job || f.decoding()) continue;
      engine_.copy_sequence(l.seq, f.seq);
      f.fed = f.job->prompt_.size();
      owners.push_back(i);
      rows.push_back(owner_rows[k]);
    }
  }
  for (Running& r : running_) cache_blocks(r);

  const int32_t n_vocab = engine_.n_vocab();
  for (size_t k = 0; k < owners.size(); ++k) {
    Running& r = running_[owners[k]];
    runtime::GenerateCallbacks cb;
    cb.on_text = [&r](std::string_view t) {
      r.job->push_text(t);
      return !r.job->cancelled();
    };
    cb.on_token = [this, &r](int32_t) {
      time_token(r);
      r.job->push_logprobs(r.job->completion_->stats().logprobs);  // before the token's text
    };
    bool more = false;
    try {
      more = r.job->completion_->advance(logits_.data() + rows[k] * static_cast<size_t>(n_vocab), cb);
    } catch (const std::exception& e) {  // a sampling failure ends this completion only
      finish(r, e.what());
      continue;
    }
    if (!more) finish(r);
  }
  std::erase_if(running_, [](const Running& r) { return !r.job; });
  count_blocks();
}

// Row j of a chunk (prompt position first_pos + j) gives the log-probability
// of the prompt's next token.
void Scheduler::score_prompt(const PromptScores& s) {
  Job& job = *running_[s.running].job;
  const size_t n_vocab = static_cast<size_t>(engine_.n_vocab());
  std::vector<runtime::TokenLogprob> lps;
  for (size_t j = 0; j < s.n && s.first_pos + j + 1 < job.prompt_.size(); ++j) {
    const std::span<const float> logits(logits_.data() + (s.first_row + j) * n_vocab, n_vocab);
    lps.push_back(runtime::token_logprob(logits, job.prompt_[s.first_pos + j + 1], job.prompt_top_));
  }
  std::lock_guard lk(job.mu_);
  job.prompt_logprobs_.insert(job.prompt_logprobs_.end(), lps.begin(), lps.end());
}

void Scheduler::loop() {
  while (true) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !running_.empty(); });
      if (stopping_) {
        for (Running& r : running_) finish(r, "the server is shutting down");
        running_.clear();
        for (auto& job : queue_) job->end(job->completion_->stats(), "the server is shutting down");
        queue_.clear();
        metrics_.requests_queued = 0;
        metrics_.requests_running = 0;
        return;
      }
      admit();
    }
    for (Running& r : running_)
      if (r.job->cancelled()) finish(r);
    std::erase_if(running_, [](const Running& r) { return !r.job; });
    {
      std::lock_guard step_lock(step_mu_);
      step();
    }
    metrics_.requests_running = static_cast<int64_t>(running_.size());
  }
}

}  // namespace frugal::server
