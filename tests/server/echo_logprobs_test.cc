// echo with logprobs on /v1/completions, as OpenAI's legacy completions
// answer it: the prompt's tokens come first in the log-probabilities, the
// first with null (nothing comes before it), each other one with its
// log-probability given the tokens before it (equal to the model run
// directly), then the answer's tokens as without echo; streamed, the first
// chunk of each choice holds the prompt and its entries; n choices each
// carry them; a prompt in the prefix cache is still scored.
#include <gtest/gtest.h>

#include <cmath>

#include "server/server_fixture.h"

namespace frugal::server::testing {
namespace {

const std::string kPrompt = "The secret of a long life is";

// log p(prompt[k] | prompt[0..k)) for k >= 1, from an engine of its own.
std::vector<double> prompt_logprobs(ServerFixture& f, const std::vector<int32_t>& prompt) {
  runtime::Engine e(*f.model, {});
  std::vector<runtime::BatchRow> rows;
  for (size_t i = 0; i < prompt.size(); ++i) rows.push_back({0, static_cast<int32_t>(i), prompt[i], true});
  std::vector<float> logits;
  e.forward(rows, logits);
  const size_t v = static_cast<size_t>(e.n_vocab());
  std::vector<double> out;
  for (size_t k = 1; k < prompt.size(); ++k) {
    const float* l = logits.data() + (k - 1) * v;
    double top = -INFINITY, z = 0;
    for (size_t t = 0; t < v; ++t) top = std::max(top, double(l[t]));
    for (size_t t = 0; t < v; ++t) z += std::exp(l[t] - top);
    out.push_back(l[prompt[k]] - top - std::log(z));
  }
  return out;
}

void expect_prompt_entries(const json& lp, const std::vector<int32_t>& prompt, const std::vector<double>& want,
                           ServerFixture& f, size_t n_top) {
  ASSERT_GE(lp["tokens"].size(), prompt.size()) << lp.dump();
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  // Offsets are in the echoed text, which a BOS token the tokenizer added is not part of.
  size_t offset = 0;
  for (size_t k = 0; k < prompt.size(); ++k) {
    EXPECT_EQ(lp["tokens"][k], f.tok->token_bytes(prompt[k])) << k;
    EXPECT_EQ(lp["text_offset"][k], offset) << k;
    if (k > 0 || prompt[0] != f.tok->bos()) offset += f.tok->token_bytes(prompt[k]).size();
    if (k == 0) continue;
    EXPECT_NEAR(lp["token_logprobs"][k].get<double>(), want[k - 1], 1e-4) << k;
    EXPECT_EQ(lp["top_logprobs"][k].size(), n_top) << k;
  }
  EXPECT_EQ(offset, kPrompt.size());
}

TEST(EchoLogprobs, ThePromptsTokensComeFirst) {
  ServerFixture f(4, 64, 8u << 20, default_model_path(), nullptr, 64);
  const std::vector<int32_t> prompt = f.tok->encode(kPrompt, f.tok->add_bos_default(), true);
  const std::vector<double> want = prompt_logprobs(f, prompt);
  const json plain_req = {{"prompt", kPrompt}, {"max_tokens", 5}, {"temperature", 0}, {"logprobs", 2}};
  const json plain = f.post("/v1/completions", plain_req).second["choices"][0];
  json req = plain_req;
  req["echo"] = true;
  for (int round = 0; round < 2; ++round) {  // the second time the prompt's blocks are in the prefix cache
    auto [status, body] = f.post("/v1/completions", req);
    ASSERT_EQ(status, 200) << body.dump();
    const json& c = body["choices"][0];
    EXPECT_EQ(c["text"], kPrompt + plain["text"].get<std::string>());
    const json& lp = c["logprobs"];
    expect_prompt_entries(lp, prompt, want, f, 2);
    // Then the answer's own entries, as without echo.
    ASSERT_EQ(lp["tokens"].size(), prompt.size() + plain["logprobs"]["tokens"].size());
    for (size_t k = 0; k < plain["logprobs"]["tokens"].size(); ++k) {
      EXPECT_EQ(lp["tokens"][prompt.size() + k], plain["logprobs"]["tokens"][k]);
      EXPECT_EQ(lp["token_logprobs"][prompt.size() + k], plain["logprobs"]["token_logprobs"][k]);
      EXPECT_EQ(lp["text_offset"][prompt.size() + k], plain["logprobs"]["text_offset"][k].get<size_t>() + kPrompt.size());
    }
  }
  // The prompt scored alone (max_tokens 0), the way a client scores a text.
  json score = req;
  score["max_tokens"] = 0;
  const json s = f.post("/v1/completions", score).second["choices"][0];
  EXPECT_EQ(s["text"], kPrompt);
  expect_prompt_entries(s["logprobs"], prompt, want, f, 2);
  EXPECT_EQ(s["logprobs"]["tokens"].size(), prompt.size());

  // Streamed: each choice's first chunk is the prompt with its entries.
  json streamed = req;
  streamed["stream"] = true;
  streamed["n"] = 2;
  streamed["temperature"] = 1;
  std::vector<int> firsts(2, 0);
  for (const std::string& ev : f.stream("/v1/completions", streamed)) {
    if (ev == "[DONE]") break;
    const json c = json::parse(ev)["choices"][0];
    const int i = c["index"];
    if (firsts[static_cast<size_t>(i)]++ != 0) continue;
    EXPECT_EQ(c["text"], kPrompt);
    expect_prompt_entries(c["logprobs"], prompt, want, f, 2);
    EXPECT_EQ(c["logprobs"]["tokens"].size(), prompt.size());
  }
  EXPECT_EQ(firsts[0] > 0 && firsts[1] > 0, true);
  // n = 2 whole: both choices carry the prompt's entries.
  streamed["stream"] = false;
  const json both = f.post("/v1/completions", streamed).second;
  ASSERT_EQ(both["choices"].size(), 2u) << both.dump();
  for (const json& c : both["choices"]) {
    EXPECT_TRUE(c["text"].get<std::string>().starts_with(kPrompt));
    expect_prompt_entries(c["logprobs"], prompt, want, f, 2);
  }
}

}  // namespace
}  // namespace frugal::server::testing
