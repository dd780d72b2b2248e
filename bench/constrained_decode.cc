// What structured output costs per decoded token: the same model decodes the
// same prompt with the same seeds without a constraint, under a JSON Schema,
// and as any JSON object, in interleaved rounds (so that other load on the
// machine falls on every mode alike), forward pass and sampling timed
// together inside one process. Built by hand against a build directory's
// libraries:
//   bench/constrained_decode.sh BUILD_DIR MODEL.gguf [ROUNDS] [TOKENS] [THREADS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "model/model.h"
#include "runtime/completion.h"
#include "runtime/engine.h"
#include "runtime/json_grammar.h"
#include "runtime/token_constraint.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  using namespace frugal;
  if (argc < 2) {
    std::fprintf(stderr, "usage: constrained_decode MODEL.gguf [ROUNDS] [TOKENS] [THREADS]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 10;
  const int tokens = argc > 3 ? std::atoi(argv[3]) : 128;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 1;
  try {
    ThreadPool pool(threads);
    auto model = model::Model::load(argv[1]);
    const gguf::Metadata& md = model->file().metadata();
    const auto tok = tokenizer::Tokenizer::from_metadata(md);
    runtime::EngineOptions eo;
    eo.n_ctx = tokens + 64;
    eo.pool = &pool;
    runtime::Engine engine(*model, eo);
    const auto t_trie = std::chrono::steady_clock::now();
    auto trie = std::make_shared<const runtime::TokenTrie>(tok, md);
    const double trie_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_trie).count();
    const auto schema = nlohmann::ordered_json::parse(R"({"type": "object", "properties": {
        "name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "integer"}},
        "mood": {"enum": ["happy", "sad"]}}, "required": ["name", "tags", "mood"], "additionalProperties": false})");
    struct Mode {
      const char* name;
      std::shared_ptr<const runtime::JsonGrammar> grammar;
      std::vector<double> rates;
      int whole = 0;
    };
    std::vector<Mode> modes = {
        {"none", nullptr, {}, 0},
        {"json_schema", std::make_shared<const runtime::JsonGrammar>(runtime::compile_json_schema(schema)), {}, 0},
        {"json_object", std::make_shared<const runtime::JsonGrammar>(runtime::json_object_grammar()), {}, 0},
    };
    const std::vector<int32_t> prompt = tok.encode("Hello", tok.add_bos_default(), true);
    std::vector<float> logits;
    for (int r = 0; r < rounds; ++r)
      for (Mode& m : modes) {
        runtime::GenerateParams p;
        p.n_predict = tokens;
        p.sampling.temperature = 1;
        p.sampling.seed = static_cast<uint64_t>(r);
        p.stop_at_end_of_generation = false;
        p.grammar = m.grammar;
        if (m.grammar) p.trie = trie;
        engine.clear_sequence(0);
        runtime::Completion c(tok, engine.n_vocab(), engine.n_ctx(), prompt, p);
        std::vector<model::BatchRow> rows;
        for (size_t i = 0; i < prompt.size(); ++i)
          rows.push_back({0, static_cast<int32_t>(i), prompt[i], i + 1 == prompt.size()});
        engine.forward(rows, logits);
        const auto t0 = std::chrono::steady_clock::now();
        int n = 0;
        while (c.advance(logits.data(), {})) {
          const model::BatchRow row{0, c.next_pos(), c.next_token(), true};
          engine.forward({&row, 1}, logits);
          ++n;
        }
        ++n;  // the last token sampled
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        m.rates.push_back(n / s);
        if (m.grammar && c.stats().stop == runtime::StopReason::kEndOfGeneration) ++m.whole;
      }
    std::printf("vocabulary %d tokens, trie built in %.0f ms; %d rounds of up to %d tokens, %d threads\n",
                engine.n_vocab(), trie_ms, rounds, tokens, threads);
    double base = 0;
    for (Mode& m : modes) {
      std::sort(m.rates.begin(), m.rates.end());
      const double med = m.rates[m.rates.size() / 2];
      if (!m.grammar) base = med;
      std::printf("%-12s median %8.1f tok/s  %+6.1f%%  (JSON closed before the token limit in %d of %d)\n", m.name, med,
                  100.0 * (med / base - 1), m.whole, rounds);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
