#include "server/openai_response.h"

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

json completion_body(const ResponseHeader& h, const std::string& text, const runtime::GenerateStats& s) {
  json j = base(h, false);
  json choice = {{"index", 0}};
  if (h.chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
  else choice["text"] = text;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason(s.stop);
  j["choices"] = json::array({choice});
  j["usage"] = usage(s);
  return j;
}

json chunk_body(const ResponseHeader& h, const std::string& text, const char* finish) {
  json j = base(h, true);
  json choice = {{"index", 0}};
  if (h.chat) choice["delta"] = finish && text.empty() ? json::object() : json{{"content", text}};
  else choice["text"] = text;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = nullable(finish);
  j["choices"] = json::array({choice});
  return j;
}

json role_chunk(const ResponseHeader& h) {
  json j = base(h, true);
  j["choices"] = json::array(
      {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
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
