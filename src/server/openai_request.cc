#include "server/openai_request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/utf8.h"
#include "server/tool_request.h"
#include "tokenizer/chat_template.h"

namespace frugal::server {

namespace {

using json = nlohmann::ordered_json;

// Fields of the OpenAI API that frugal does not implement: refused when they
// ask for something, accepted when they hold their "off" value.
void refuse_unsupported(const json& j) {
  auto refuse = [](const char* key, const std::string& why) {
    throw RequestError(key, std::string(key) + " is not supported by this server" + why);
  };
  if (present(j, "suffix") && j["suffix"] != "") refuse("suffix", " (no fill-in-the-middle)");
  if (present(j, "best_of") && j["best_of"] != 1 && j["best_of"] != j.value("n", json(1))) refuse("best_of", "");
  // Tools belong to chat: a completions body that sends them is refused.
  const bool chat = present(j, "messages");
  if (!chat && present(j, "tools") && !(j["tools"].is_array() && j["tools"].empty())) refuse("tools", " on completions (use chat)");
  if (!chat && present(j, "tool_choice") && j["tool_choice"] != "none") refuse("tool_choice", " on completions (use chat)");
}

// response_format: {"type": "text"}, {"type": "json_object"}, or
// {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}:
// the grammar the answer must follow (null for text).
std::shared_ptr<const runtime::JsonGrammar> response_grammar(const json& j) {
  if (!present(j, "response_format")) return nullptr;
  const json& f = j["response_format"];
  if (!f.is_object() || !f.contains("type") || !f["type"].is_string())
    throw RequestError("response_format", "response_format must be an object with a type: text, json_object or json_schema");
  const std::string type = f["type"].get<std::string>();
  if (type == "text") return nullptr;
  if (type == "json_object") return std::make_shared<const runtime::JsonGrammar>(runtime::json_object_grammar());
  if (type != "json_schema")
    throw RequestError("response_format", "response_format.type must be text, json_object or json_schema, not \"" + type + "\"");
  if (!f.contains("json_schema") || !f["json_schema"].is_object())
    throw RequestError("response_format", "response_format.json_schema must be an object with the schema");
  const json& js = f["json_schema"];
  if (js.contains("strict") && !js["strict"].is_boolean() && !js["strict"].is_null())
    throw RequestError("response_format", "response_format.json_schema.strict must be true or false");
  if (!js.contains("schema") || !(js["schema"].is_object() || js["schema"].is_boolean()))
    throw RequestError("response_format", "response_format.json_schema.schema must be a JSON Schema object");
  try {
    return std::make_shared<const runtime::JsonGrammar>(runtime::compile_json_schema(js["schema"]));
  } catch (const Error& e) {
    throw RequestError("response_format", std::string("response_format.json_schema: ") + e.what());
  }
}

std::vector<std::string> stop_strings(const json& j) {
  std::vector<std::string> out;
  if (!present(j, "stop")) return out;
  const json& s = j["stop"];
  if (s.is_string()) {
    if (!s.get<std::string>().empty()) out.push_back(s.get<std::string>());
    return out;
  }
  if (!s.is_array()) throw RequestError("stop", "stop must be a string or an array of strings");
  for (const json& e : s) {
    if (!e.is_string()) throw RequestError("stop", "stop must be a string or an array of strings");
    if (!e.get<std::string>().empty()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<std::pair<int32_t, float>> logit_bias(const json& j, int32_t n_vocab) {
  std::vector<std::pair<int32_t, float>> out;
  if (!present(j, "logit_bias")) return out;
  const json& b = j["logit_bias"];
  if (!b.is_object()) throw RequestError("logit_bias", "logit_bias must be an object of token id -> bias");
  for (const auto& [key, value] : b.items()) {
    char* end = nullptr;
    const long id = std::strtol(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || id < 0 || id >= n_vocab)
      throw RequestError("logit_bias", "logit_bias key \"" + key + "\" is not a token id of this model (0-" +
                                           std::to_string(n_vocab - 1) + ")");
    if (!value.is_number() || !std::isfinite(value.get<double>()) || std::abs(value.get<double>()) > 100)
      throw RequestError("logit_bias", "logit_bias values must be numbers from -100 to 100");
    out.emplace_back(static_cast<int32_t>(id), value.get<float>());
  }
  return out;
}

// The fields both endpoints share.
runtime::GenerateParams generation_params(const json& j, const tokenizer::Tokenizer& tok,
                                          const runtime::GenerateParams& defaults, const char* max_tokens_key) {
  refuse_unsupported(j);
  runtime::GenerateParams p = defaults;
  const int64_t int_max = std::numeric_limits<int32_t>::max();
  p.n_predict = static_cast<int>(integer(j, max_tokens_key, defaults.n_predict, 0, int_max));
  if (present(j, "max_tokens") && std::string(max_tokens_key) != "max_tokens")
    p.n_predict = static_cast<int>(integer(j, "max_tokens", p.n_predict, 0, int_max));
  runtime::SamplingParams& s = p.sampling;
  s.temperature = static_cast<float>(number(j, "temperature", s.temperature, 0, 100));
  s.top_p = static_cast<float>(number(j, "top_p", s.top_p, 0, 1));
  s.top_k = static_cast<int>(integer(j, "top_k", s.top_k, 0, int_max));
  s.min_p = static_cast<float>(number(j, "min_p", s.min_p, 0, 1));
  s.presence_penalty = static_cast<float>(number(j, "presence_penalty", s.presence_penalty, -2, 2));
  s.frequency_penalty = static_cast<float>(number(j, "frequency_penalty", s.frequency_penalty, -2, 2));
  s.repeat_penalty = static_cast<float>(number(j, "repeat_penalty", s.repeat_penalty, 1e-3, 100));
  s.repeat_last_n = static_cast<int>(integer(j, "repeat_last_n", s.repeat_last_n, -1, int_max));
  if (present(j, "seed")) {
    if (!j["seed"].is_number_integer()) throw RequestError("seed", "seed must be an integer");
    s.seed = j["seed"].is_number_unsigned() ? j["seed"].get<uint64_t>() : static_cast<uint64_t>(j["seed"].get<int64_t>());
  }
  s.logit_bias = logit_bias(j, tok.n_vocab());
  p.stop = stop_strings(j);
  p.stop_at_end_of_generation = !boolean(j, "ignore_eos", false);
  p.grammar = response_grammar(j);
  return p;
}

// The fields that add to what is returned: n, and logprobs in each
// endpoint's form (chat: logprobs true and top_logprobs N; completions:
// logprobs N).
void read_outputs(const json& j, CompletionRequest& r) {
  r.n = static_cast<int>(integer(j, "n", 1, 1, kMaxChoices));
  if (r.chat) {
    const bool want = boolean(j, "logprobs", false);
    const int64_t top = integer(j, "top_logprobs", 0, 0, kMaxTopLogprobs);
    if (present(j, "top_logprobs") && !want)
      throw RequestError("top_logprobs", "top_logprobs needs logprobs: true");
    r.params.logprobs = want ? static_cast<int>(top) : -1;
  } else {
    if (present(j, "top_logprobs")) throw RequestError("top_logprobs", "completions take logprobs: N (0-20), not top_logprobs");
    if (present(j, "logprobs") && j["logprobs"].is_boolean())
      throw RequestError("logprobs", "completions take logprobs as the number of alternatives per token (0-20)");
    r.params.logprobs = present(j, "logprobs") ? static_cast<int>(integer(j, "logprobs", 0, 0, kMaxTopLogprobs)) : -1;
    r.echo = boolean(j, "echo", false);
  }
}

void read_stream_flags(const json& j, CompletionRequest& r) {
  if (present(j, "model")) {
    if (!j["model"].is_string()) throw RequestError("model", "model must be a string");
    r.model = j["model"].get<std::string>();
  }
  r.stream = boolean(j, "stream", false);
  if (present(j, "stream_options")) {
    if (!j["stream_options"].is_object()) throw RequestError("stream_options", "stream_options must be an object");
    r.include_usage = boolean(j["stream_options"], "include_usage", false);
  }
}

// A message's content: a string, null, or an array of {"type": "text", "text": ...} parts.
std::string message_text(const json& content, size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw RequestError(where, where + " must be a string or an array of content parts");
  std::string text;
  for (const json& part : content) {
    const bool text_part = part.is_object() && part.contains("type") && part["type"] == "text" &&
                           part.contains("text") && part["text"].is_string();
    if (!text_part)
      throw RequestError(where, where + ": only {\"type\": \"text\", \"text\": ...} parts are supported (this model reads text)");
    text += part["text"].get<std::string>();
  }
  return text;
}

}  // namespace

CompletionRequest parse_completion_request(const std::string& body, const tokenizer::Tokenizer& tok,
                                           const runtime::GenerateParams& defaults) {
  const json j = parse_object_body(body);
  CompletionRequest r;
  r.params = generation_params(j, tok, defaults, "max_tokens");
  r.seeded = present(j, "seed");
  read_stream_flags(j, r);
  read_outputs(j, r);
  if (!present(j, "prompt")) throw RequestError("prompt", "prompt is required");
  json prompt = j["prompt"];
  if (prompt.is_array() && prompt.size() == 1 && (prompt[0].is_string() || prompt[0].is_array())) prompt = prompt[0];
  if (prompt.is_string()) {
    r.prompt = tok.encode(prompt.get<std::string>(), tok.add_bos_default(), true);
    r.prompt_text = prompt.get<std::string>();
  } else if (prompt.is_array() && !prompt.empty() && !prompt[0].is_string() && !prompt[0].is_array()) {
    r.prompt = token_ids(prompt, tok.n_vocab(), "prompt");
    r.prompt_text = to_valid_utf8(tok.decode(r.prompt));
  } else if (prompt.is_array() && prompt.size() > 1) {
    throw RequestError("prompt", "one prompt per request: send the others as separate requests");
  } else {
    throw RequestError("prompt", "prompt must be a string or an array of token ids");
  }
  if (r.prompt.empty()) throw RequestError("prompt", "the prompt is empty");
  return r;
}

CompletionRequest parse_chat_request(const std::string& body, const tokenizer::Tokenizer& tok,
                                     const gguf::Metadata& md, const runtime::GenerateParams& defaults) {
  const json j = parse_object_body(body);
  CompletionRequest r;
  r.chat = true;
  if (present(j, "echo") && j["echo"] != false) throw RequestError("echo", "echo is a field of completions, not of chat");
  r.params = generation_params(j, tok, defaults, "max_completion_tokens");
  r.seeded = present(j, "seed");
  read_stream_flags(j, r);
  read_outputs(j, r);
  const ToolRequest tools = read_tool_request(j, model_tool_call_format(md, tok));
  r.tool_choice = tools.choice;
  r.tool_prefill = tools.prefill;
  r.tool_close = tools.close;
  if (tools.grammar) {
    if (r.params.grammar) throw RequestError("tool_choice", "tool_choice \"" + tools.choice + "\" forces a call; response_format cannot apply too");
    r.params.grammar = tools.grammar;
  }
  if (!present(j, "messages") || !j["messages"].is_array() || j["messages"].empty())
    throw RequestError("messages", "messages must be a non-empty array");
  json messages = json::array();
  for (size_t i = 0; i < j["messages"].size(); ++i) {
    const json& m = j["messages"][i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw RequestError(where, where + " must be an object with a string role");
    json out = {{"role", m["role"]}, {"content", message_text(m.value("content", json()), i)}};
    copy_message_tool_fields(m, where, out);
    if (m.contains("name")) out["name"] = m["name"];
    messages.push_back(std::move(out));
  }
  std::string rendered;
  try {
    json context = {{"messages", messages}, {"add_generation_prompt", true}};
    if (!tools.tools.is_null()) context["tools"] = tools.tools;
    rendered = tokenizer::render_chat_template(md, std::move(context));
  } catch (const std::exception& e) {
    throw RequestError("messages", std::string("the chat template refused the messages: ") + e.what());
  }
  // Without a template the plain "role: content" lines have no end-of-turn
  // token: the next "user:" line is where the answer ends (as in frugal chat).
  if (!md.has("tokenizer.chat_template")) r.params.stop.push_back("\nuser:");
  rendered += r.tool_prefill;  // a forced call's opening, in the family's markers
  r.prompt = tokenizer::encode_chat_prompt(tok, rendered);
  if (r.prompt.empty()) throw RequestError("messages", "the rendered conversation is empty");
  return r;
}

}  // namespace frugal::server
