// frugal run: one completion of a prompt, streamed to stdout as it is made,
// then the prompt and generation speeds on stderr.
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

namespace frugal::cli {
namespace {

struct RunArgs {
  GenerationFlags gen;
  ExpertParallelFlags expert_parallel;
  std::string prompt, prompt_ids;
  bool print_ids = false, no_bos = false, no_special = false, ignore_eos = false;
};

int run_run(const RunArgs& a) {
  if (a.prompt.empty() == a.prompt_ids.empty()) fail("run: give the prompt as text (-p) or as token ids (--prompt-ids), one of them");
  dist::ProcessGroup* group = join_expert_parallel(a.expert_parallel);
  runtime::GenerateParams params = generate_params(a.gen);
  params.stop_at_end_of_generation = !a.ignore_eos;
  // Every rank samples the same tokens: rank 0's seed.
  if (group) params.sampling.seed = group->broadcast(params.sampling.seed);
  GenerationFlags gen = a.gen;
  gen.mmap = gen.mmap || group;  // each rank pages in only the experts it owns
  LoadedModel m = load_for_generation(gen);
  attach_expert_parallel(group, *m.model, a.expert_parallel);
  const auto t0 = std::chrono::steady_clock::now();
  const tokenizer::Tokenizer& tok = *m.tokenizer;
  const std::vector<int32_t> prompt =
      a.prompt_ids.empty() ? tok.encode(a.prompt, tok.add_bos_default() && !a.no_bos, !a.no_special)
                           : parse_id_list(a.prompt_ids, "run: --prompt-ids");

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
                                 app.add_option("-p,--prompt", a->prompt, "the prompt text");
                                 app.add_option("--prompt-ids", a->prompt_ids, "the prompt as token ids, comma separated");
                                 app.add_flag("--print-ids", a->print_ids,
                                              "print the generated token ids (space separated) instead of text");
                                 app.add_flag("--no-bos", a->no_bos, "do not add the BOS token the model asks for");
                                 app.add_flag("--no-special", a->no_special,
                                              "treat special-token spellings in the prompt as plain text");
                                 app.add_flag("--ignore-eos", a->ignore_eos,
                                              "go on past end-of-generation tokens (they are printed as text)");
                                 add_generation_flags(app, a->gen);
                                 add_expert_parallel_flags(app, a->expert_parallel);
                                 return [a] { return run_run(*a); };
                               }};

}  // namespace
}  // namespace frugal::cli
