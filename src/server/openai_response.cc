#include "server/openai_response.h"

#include <cmath>
#include <limits>

#include "base/utf8.h"

namespace frugal::server {

namespace {

json base(const ResponseHeader& h, bool chunk) {
  const char* object = h.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}

json nullable(const char* s) { return s ? json(s) : json(nullptr); }

}  // namespace

const char* finish_reason(runtime::StopReason r) {
  switch (r) {
    case runtime::StopReason::kLength:
    case runtime::StopReason::kContextFull: return "length";
    default: return "stop";
  }
}

json usage(const runtime::GenerateStats& s) {
  return {{"prompt_tokens", s.n_prompt},
          {"completion_tokens", s.n_generated},
          {"total_tokens", s.n_prompt + s.n_generated},
          {"prompt_tokens_details", {{"cached_tokens", s.n_reused}}}};  // found in the prefix cache
}

json logprobs_body(bool chat, const tokenizer::Tokenizer& tok, std::span<const runtime::TokenLogprob> lps,
                   size_t& offset) {
  auto bytes_of = [](const std::string& b) {
    json a = json::array();
    for (char c : b) a.push_back(static_cast<uint8_t>(c));
    return a;
  };
  // -inf (a token the model gives no chance) is not JSON: the lowest float.
  auto finite = [](float lp) { return std::isfinite(lp) ? lp : std::numeric_limits<float>::lowest(); };
  if (chat) {
    json content = json::array();
    for (const runtime::TokenLogprob& lp : lps) {
      const std::string b = tok.token_bytes(lp.id);
      json top = json::array();
      for (const auto& [id, p] : lp.top) {
        const std::string tb = tok.token_bytes(id);
        top.push_back({{"token", to_valid_utf8(tb)}, {"logprob", finite(p)}, {"bytes", bytes_of(tb)}});
      }
      content.push_back({{"token", to_valid_utf8(b)}, {"logprob", finite(lp.logprob)}, {"bytes", bytes_of(b)},
                         {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}, {"refusal", nullptr}};
  }
  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(), offsets = json::array();
  for (const runtime::TokenLogprob& lp : lps) {
    const std::string b = tok.token_bytes(lp.id);
    tokens.push_back(to_valid_utf8(b));
    token_logprobs.push_back(finite(lp.logprob));
    json top = json::object();
    for (const auto& [id, p] : lp.top) top[to_valid_utf8(tok.token_bytes(id))] = finite(p);
    top_logprobs.push_back(std::move(top));
    offsets.push_back(offset);
    offset += b.size();
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top_logprobs)},
          {"text_offset", std::move(offsets)}};
}

json prompt_logprobs_body(const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                          std::span<const runtime::TokenLogprob> prompt_lps, const std::string& prompt_text) {
  size_t offset = 0;
  json first = logprobs_body(false, tok, std::vector<runtime::TokenLogprob>{{.id = prompt[0], .logprob = 0, .top = {}}}, offset);
  const bool added_bos = prompt[0] == tok.bos() && !prompt_text.starts_with(tok.token_bytes(prompt[0]));
  if (added_bos) offset = 0;
  first["token_logprobs"][0] = nullptr;
  first["top_logprobs"][0] = nullptr;
  return join_logprobs(std::move(first), logprobs_body(false, tok, prompt_lps, offset));
}

json join_logprobs(json a, const json& b) {
  if (a.is_null()) return b;
  if (b.is_null()) return a;
  for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"})
    for (const json& v : b[key]) a[key].push_back(v);
  return a;
}

json completion_body(const ResponseHeader& h, const std::vector<Choice>& choices, const runtime::GenerateStats& s) {
  json j = base(h, false);
  j["choices"] = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    json choice = {{"index", i}};
    if (h.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
      if (!c.reasoning.empty()) choice["message"]["reasoning_content"] = c.reasoning;
      if (!c.tool_calls.is_null()) {
        // The text around the calls is kept unless it is only the blank lines between them.
        if (c.text.find_first_not_of(" \t\r\n") == std::string::npos) choice["message"]["content"] = nullptr;
        choice["message"]["tool_calls"] = c.tool_calls;
      }
    } else {
      choice["text"] = c.text;
    }
    choice["logprobs"] = c.logprobs;
    choice["finish_reason"] = nullable(c.finish);
    j["choices"].push_back(std::move(choice));
  }
  j["usage"] = usage(s);
  return j;
}

json chunk_body(const ResponseHeader& h, int index, const Choice& c) {
  json j = base(h, true);
  json choice = {{"index", index}};
  if (h.chat) {
    choice["delta"] = json::object();
    if (!c.reasoning.empty()) choice["delta"]["reasoning_content"] = c.reasoning;
    const bool other_news = !c.reasoning.empty() || !c.tool_calls.is_null();
    if (!(c.finish && c.text.empty()) && !(c.text.empty() && other_news)) choice["delta"]["content"] = c.text;
    if (!c.tool_calls.is_null()) choice["delta"]["tool_calls"] = c.tool_calls;
  }
  if (!h.chat) choice["text"] = c.text;
  choice["logprobs"] = c.logprobs;
  choice["finish_reason"] = nullable(c.finish);
  j["choices"] = json::array({choice});
  return j;
}

json role_chunk(const ResponseHeader& h, int index) {
  json j = base(h, true);
  j["choices"] = json::array({{{"index", index},
                               {"delta", {{"role", "assistant"}, {"content", ""}}},
                               {"logprobs", nullptr},
                               {"finish_reason", nullptr}}});
  return j;
}

json usage_chunk(const ResponseHeader& h, const runtime::GenerateStats& s) {
  json j = base(h, true);
  j["choices"] = json::array();
  j["usage"] = usage(s);
  return j;
}

json error_body(const std::string& message, const std::string& type, const std::string& param, const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

}  // namespace frugal::server
