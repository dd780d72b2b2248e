#include "server/token_endpoints.h"

#include "base/log.h"
#include "base/utf8.h"
#include "server/completion_answer.h"
#include "server/request_fields.h"

namespace frugal::server {

namespace {

json piece(const std::string& bytes) {
  if (is_valid_utf8(bytes)) return bytes;
  json a = json::array();
  for (unsigned char c : bytes) a.push_back(static_cast<int>(c));
  return a;
}

}  // namespace

json tokenize_response(const std::string& body, const tokenizer::Tokenizer& tok) {
  const json j = parse_object_body(body);
  // llama-server's defaults: no BOS unless asked (add_special then adds it
  // only where the model's tokenizer.ggml.add_bos_token wants one, as
  // /v1/completions does), special tokens spelled in the text recognised.
  const bool add_special = boolean(j, "add_special", false);
  const bool parse_special = boolean(j, "parse_special", true);
  const bool with_pieces = boolean(j, "with_pieces", false);
  if (!present(j, "content")) throw RequestError("content", "content is required");
  const json& content = j["content"];
  const bool bos = add_special && tok.add_bos_default();
  std::vector<int32_t> ids;
  if (content.is_string()) {
    ids = tok.encode(content.get<std::string>(), bos, parse_special);
  } else if (content.is_array()) {
    for (size_t i = 0; i < content.size(); ++i) {
      const json& e = content[i];
      if (e.is_string()) {
        const std::vector<int32_t> part = tok.encode(e.get<std::string>(), bos && i == 0, parse_special);
        ids.insert(ids.end(), part.begin(), part.end());
      } else {
        const std::vector<int32_t> id = token_ids(json::array({e}), tok.n_vocab(), "content");
        ids.push_back(id[0]);
      }
    }
  } else {
    throw RequestError("content", "content must be a string or an array of strings and token ids");
  }
  json tokens = json::array();
  for (int32_t id : ids) {
    if (with_pieces) tokens.push_back({{"id", id}, {"piece", piece(tok.token_bytes(id))}});
    else tokens.push_back(id);
  }
  return {{"tokens", std::move(tokens)}};
}

json detokenize_response(const std::string& body, const tokenizer::Tokenizer& tok) {
  const json j = parse_object_body(body);
  if (!present(j, "tokens")) throw RequestError("tokens", "tokens is required");
  if (!j["tokens"].is_array()) throw RequestError("tokens", "tokens must be an array of token ids");
  const std::vector<int32_t> ids = token_ids(j["tokens"], tok.n_vocab(), "tokens");
  return {{"content", to_valid_utf8(tok.decode(ids))}};
}

void answer_tokens(Exchange& ex, const tokenizer::Tokenizer& tok, bool detokenize, const HttpHeaders& headers) {
  int status = 200;
  std::string text;
  try {
    const std::string& body = ex.request().body;
    text = json_text(detokenize ? detokenize_response(body, tok) : tokenize_response(body, tok));
  } catch (const RequestError& e) {
    status = 400;
    text = json_text(error_body(e.what(), "invalid_request_error", e.param, e.code));
  } catch (const std::exception& e) {
    log_warn("serve: a tokenizer request failed: ", e.what());
    status = 500;
    text = json_text(error_body(e.what(), "server_error"));
  }
  HttpHeaders h = headers;
  h.emplace_back("Content-Type", "application/json");
  ex.respond(status, std::move(h), std::move(text));
}

}  // namespace frugal::server
