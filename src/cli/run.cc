// frugal run: one completion of a prompt, streamed to stdout as it is made,
// then the prompt and generation speeds on stderr. Several prompts (-p
// repeated, or --prompt-ids with ';' between prompts) are decoded together
// by the server's scheduler (continuous batching, one sequence slot each)
// and printed whole, one after another; under --expert-parallel rank 0's
// scheduler leads and the other ranks follow its engine, as in serve, and
// with --attention-dp each prompt's slot is computed on one rank.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/command.h"
#include "cli/expert_parallel_flags.h"
#include "cli/generation_flags.h"
#include "cli/id_list.h"
#include "server/metrics.h"
#include "server/scheduler.h"

namespace frugal::cli {
namespace {

struct RunArgs {
  GenerationFlags gen;
  ExpertParallelFlags expert_parallel;
  std::vector<std::string> prompts;
  std::string prompt_ids;
  bool print_ids = false, no_bos = false, no_special = false, ignore_eos = false;
};

// How many prompts the flags give: each -p, and each ';'-separated list of --prompt-ids.
int count_prompts(const RunArgs& a) {
  const int lists = a.prompt_ids.empty() ? 0 : 1 + static_cast<int>(std::count(a.prompt_ids.begin(), a.prompt_ids.end(), ';'));
  return static_cast<int>(a.prompts.size()) + lists;
}

std::vector<std::vector<int32_t>> prompt_tokens(const RunArgs& a, const tokenizer::Tokenizer& tok) {
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& p : a.prompts)
    prompts.push_back(tok.encode(p, tok.add_bos_default() && !a.no_bos, !a.no_special));
  if (!a.prompt_ids.empty())
    for (size_t b = 0;;) {
      const size_t e = std::min(a.prompt_ids.find(';', b), a.prompt_ids.size());
      prompts.push_back(parse_id_list(a.prompt_ids.substr(b, e - b), "run: --prompt-ids"));
      if (e == a.prompt_ids.size()) break;
      b = e + 1;
    }
  return prompts;
}

// Several prompts at once: a slot each, the scheduler's batches; rank 0
// leads the other ranks' engines. Each completion is printed whole, in the
// order of the prompts (ids one line each with --print-ids).
int run_prompts(const RunArgs& a, dist::ProcessGroup* group, runtime::GenerateParams params, const GenerationFlags& gen) {
  const int n_prompts = count_prompts(a);
  LoadedModel m = load_for_generation(gen, n_prompts);
  attach_expert_parallel(group, *m.model, a.expert_parallel);
  if (group && a.expert_parallel.rows_by_all_to_all()) m.engine->spread_sequences(*group);
  const auto t0 = std::chrono::steady_clock::now();
  if (group && group->rank() != 0) return follow_rank0(*group, *m.engine, *m.model, t0, "run");
  const std::unique_ptr<runtime::EngineJournal> journal = lead_ranks(group, *m.engine, a.expert_parallel);
  const std::vector<std::vector<int32_t>> prompts = prompt_tokens(a, *m.tokenizer);
  if (a.print_ids) params.logprobs = 0;  // the generated ids, in the stats
  server::Metrics metrics;
  server::Scheduler scheduler(*m.engine, *m.tokenizer, {.n_batch = std::max(512, n_prompts), .max_queued = n_prompts},
                              metrics);
  std::vector<std::shared_ptr<server::Job>> jobs;
  std::string error;
  try {
    for (const std::vector<int32_t>& p : prompts) jobs.push_back(scheduler.submit(p, params));
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::vector<std::string> texts(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i)
    for (;;) {
      server::Job::Chunk c = jobs[i]->take(std::chrono::milliseconds(1000));
      texts[i] += c.text;
      if (c.done) break;
    }
  scheduler.stop();
  if (journal) journal->stop(error.empty());
  if (!error.empty()) fail("run: ", error);
  int n_generated = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!jobs[i]->error().empty()) fail("run: prompt ", i + 1, ": ", jobs[i]->error());
    if (a.print_ids) {
      for (size_t k = 0; k < jobs[i]->stats().logprobs.size(); ++k)
        std::printf(k ? " %d" : "%d", jobs[i]->stats().logprobs[k].id);
      std::printf("\n");
    } else {
      if (jobs.size() > 1) std::printf("--- prompt %zu ---\n", i + 1);
      std::printf("%s\n", texts[i].c_str());
    }
    n_generated += jobs[i]->stats().n_generated;
  }
  std::fflush(stdout);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::fprintf(stderr, "prompt %zu: ", i + 1);
    print_generation_stats(jobs[i]->stats());
  }
  std::fprintf(stderr, "%zu prompts together: %d tokens generated in %.2f s (%.1f tok/s)\n", jobs.size(), n_generated,
               seconds, n_generated / seconds);
  report_expert_parallel(group, *m.model, seconds);
  return 0;
}

int run_run(const RunArgs& a) {
  if (a.prompts.empty() && a.prompt_ids.empty())
    fail("run: give the prompt as text (-p) or as token ids (--prompt-ids)");
  dist::ProcessGroup* group = join_expert_parallel(a.expert_parallel);
  runtime::GenerateParams params = generate_params(a.gen);
  params.stop_at_end_of_generation = !a.ignore_eos;
  // Every rank samples the same tokens: rank 0's seed.
  if (group) params.sampling.seed = group->broadcast(params.sampling.seed);
  GenerationFlags gen = a.gen;
  gen.mmap = gen.mmap || group;  // each rank pages in only the experts it owns
  if (count_prompts(a) > 1 || a.expert_parallel.rows_by_all_to_all()) return run_prompts(a, group, params, gen);
  LoadedModel m = load_for_generation(gen);
  attach_expert_parallel(group, *m.model, a.expert_parallel);
  const auto t0 = std::chrono::steady_clock::now();
  const tokenizer::Tokenizer& tok = *m.tokenizer;
  const std::vector<int32_t> prompt = prompt_tokens(a, tok).front();

  runtime::GenerateCallbacks cb;
  bool first_id = true;
  if (a.print_ids) {
    cb.on_token = [&first_id](int32_t id) {
      std::printf(first_id ? "%d" : " %d", id);
      std::fflush(stdout);
      first_id = false;
    };
  } else {
    cb.on_text = [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  const runtime::GenerateStats stats = runtime::generate(*m.engine, tok, prompt, params, cb);
  std::printf("\n");
  std::fflush(stdout);  // the newline before the speeds on stderr
  if (!group || group->rank() == 0) print_generation_stats(stats);
  report_expert_parallel(group, *m.model, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

const CommandRegistration kRun{"run", "generate text from a prompt, streamed as it is made", [](CLI::App& app) {
                                 auto a = std::make_shared<RunArgs>();
                                 app.add_option("-p,--prompt", a->prompts,
                                                "the prompt text; repeated: several prompts decoded together, "
                                                "each completion printed whole");
                                 app.add_option("--prompt-ids", a->prompt_ids,
                                                "the prompt as token ids, comma separated ('1,2;3,4': several prompts)");
                                 app.add_flag("--print-ids", a->print_ids,
                                              "print the generated token ids (space separated) instead of text");
                                 app.add_flag("--no-bos", a->no_bos, "do not add the BOS token the model asks for");
                                 app.add_flag("--no-special", a->no_special,
                                              "treat special-token spellings in the prompt as plain text");
                                 app.add_flag("--ignore-eos", a->ignore_eos,
                                              "go on past end-of-generation tokens (they are printed as text)");
                                 add_generation_flags(app, a->gen);
                                 add_expert_parallel_flags(app, a->expert_parallel, true);
                                 return [a] { return run_run(*a); };
                               }};

}  // namespace
}  // namespace frugal::cli
