// libFuzzer target for the OpenAI request parser (src/server/openai_request):
// any body either becomes a request or throws RequestError (or frugal::Error),
// which the server answers with a 400. Any other exception would reach the client as a 500 (or
// worse), so it is reported as a finding; ASan/UBSan watch the rest, including
// the chat template engine that renders the messages. The same for the bodies
// of /tokenize and /detokenize (src/server/token_endpoints), whose answers
// must also be valid UTF-8 JSON (there a frugal::Error would be a 500 too).
//
// The first input byte picks the endpoint (by its value mod 4: completions,
// chat, tokenize, detokenize); the rest is the body. The tokenizer, template and metadata are the bundled
// default model's (models/default.gguf, found from the working directory or
// $FRUGAL_MODEL).
//
// With FRUGAL_FUZZ_WRITE_SEEDS=DIR in the environment the binary writes a seed
// corpus of well-formed and near-miss bodies into DIR and exits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "gguf/reader.h"
#include "server/openai_request.h"
#include "server/token_endpoints.h"
#include "tokenizer/tokenizer.h"
#include "fuzz_seeds.h"

namespace {

using frugal::server::RequestError;

struct Context {
  frugal::gguf::Reader file;
  frugal::tokenizer::Tokenizer tok;
  frugal::runtime::GenerateParams defaults;
};
std::optional<Context> g_ctx;
volatile size_t g_sink;

void write_seeds(const std::string& dir) {
  const std::vector<std::string> completions = {
      R"({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0})",
      R"({"prompt": [1, 2, 3], "max_tokens": 4, "stream": true, "stream_options": {"include_usage": true}})",
      R"({"prompt": ["a"], "stop": ["\n", "."], "seed": 7, "top_p": 0.9, "top_k": 40, "min_p": 0.05})",
      R"({"prompt": "x", "logit_bias": {"10": -100, "11": 5}, "presence_penalty": 1, "frequency_penalty": -1})",
      R"({"prompt": "x", "n": 2, "logprobs": 3, "echo": true, "repeat_penalty": 1.1, "ignore_eos": true})",
      R"({"prompt": [["a"], "b"], "max_tokens": -1, "seed": -3})",
  };
  const std::vector<std::string> chats = {
      R"({"messages": [{"role": "user", "content": "Hello"}], "max_completion_tokens": 8})",
      R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "stream": true})",
      R"({"messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "1"}]}, {"role": "user", "content": "x", "name": "n"}]})",
      R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "tools": []})",
      R"({"messages": [], "response_format": {"type": "json_object"}})",
      // Past findings (each was a JSON type error that reached the client as a 500).
      R"({"messages": [{"role": "user", "content": [{"type": 1, "text": "x"}]}]})",
      R"({"messages": [], "response_format": {"type": 99}})",
  };
  int k = 0;
  auto put = [&](char endpoint, const std::string& body) {
    std::ofstream(dir + "/seed" + std::to_string(k++), std::ios::binary) << endpoint << body;
  };
  const std::vector<std::string> tokenizes = {
      R"({"content": "Hello, caf\u00e9 <|im_start|>", "with_pieces": true})",
      R"({"content": ["a", 256, "b"], "add_special": true, "parse_special": false})",
      R"({"content": [1.5, -1, 99999]})",
  };
  const std::vector<std::string> detokenizes = {
      R"({"tokens": [72, 477, 111, 195]})",
      R"({"tokens": [-1, 18446744073709551615, "x"]})",
  };
  for (const auto& b : completions) put('\0', b);
  for (const auto& b : chats) put('\1', b);
  for (const auto& b : tokenizes) put('\2', b);
  for (const auto& b : detokenizes) put('\3', b);
}

// /tokenize or /detokenize: an answer in valid UTF-8, or a RequestError.
void token_endpoint(bool detokenize, const std::string& body) {
  try {
    const auto answer = detokenize ? frugal::server::detokenize_response(body, g_ctx->tok)
                                   : frugal::server::tokenize_response(body, g_ctx->tok);
    // The strict encoder throws on a string that is not valid UTF-8 (the
    // server's json_text would send U+FFFD instead: bytes lost unseen).
    std::string text;
    try {
      text = answer.dump();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "a string in the answer is not valid UTF-8: %s\n", e.what());
      std::abort();
    }
    g_sink = text.size();
  } catch (const RequestError& e) {
    g_sink = e.param.size();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: exception other than RequestError: %s\n", detokenize ? "detokenize" : "tokenize", e.what());
    std::abort();
  }
}

std::string default_model() {
  if (const char* m = std::getenv("FRUGAL_MODEL")) return m;
  return "models/default.gguf";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  frugal::fuzz::write_seeds_if_asked(write_seeds);
  try {
    auto file = frugal::gguf::Reader::open(default_model());
    auto tok = frugal::tokenizer::Tokenizer::from_metadata(file.metadata());
    g_ctx.emplace(Context{std::move(file), std::move(tok), {}});
    g_ctx->defaults.n_predict = 16;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "openai_request_fuzz: cannot load %s: %s\n", default_model().c_str(), e.what());
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool chat = data[0] & 1;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 2) {
    token_endpoint(chat, body);
    return 0;
  }
  try {
    const auto r = chat ? frugal::server::parse_chat_request(body, g_ctx->tok, g_ctx->file.metadata(), g_ctx->defaults)
                        : frugal::server::parse_completion_request(body, g_ctx->tok, g_ctx->defaults);
    for (int32_t id : r.prompt)
      if (id < 0 || id >= g_ctx->tok.n_vocab()) {
        std::fprintf(stderr, "a prompt token id %d outside the vocabulary was let through\n", id);
        std::abort();
      }
    g_sink = r.prompt.size() + r.params.stop.size();
  } catch (const RequestError& e) {
    g_sink = e.param.size();
  } catch (const frugal::Error& e) {  // also answered with a 400 (http_server.cc)
    g_sink = std::string(e.what()).size();
  } catch (const std::exception& e) {
    // Not a RequestError: the server would answer this body with a 500.
    std::fprintf(stderr, "exception other than RequestError: %s\n", e.what());
    std::abort();
  }
  return 0;
}
