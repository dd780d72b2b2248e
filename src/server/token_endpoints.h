// POST /tokenize and POST /detokenize, as llama-server answers them, so
// that its clients (prompt-length counting, token viewers) work unchanged:
//   /tokenize   {"content", "add_special" (false), "parse_special" (true),
//                "with_pieces" (false)} -> {"tokens": [id...]}, or with
//                pieces {"tokens": [{"id", "piece"}...]}
//   /detokenize {"tokens": [id...]} -> {"content": text}
// Everything sent is valid UTF-8 JSON.
#pragma once
#include <string>

#include "server/exchange.h"
#include "server/openai_response.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server {

// The answer to each body; RequestError (a 400 naming the field) when it is bad.
// `content` may be a string or, as llama-server takes it, an array of
// strings and token ids (ids kept as they are; add_special applies to the
// first element only). A piece that is not valid UTF-8 on its own (a byte
// token, part of a character) is sent as the array of its byte values, as
// llama-server does, rather than as a string that would have to lose them.
json tokenize_response(const std::string& body, const tokenizer::Tokenizer& tok);
// The text valid UTF-8: a character left incomplete at either end becomes U+FFFD.
json detokenize_response(const std::string& body, const tokenizer::Tokenizer& tok);

// Answers ex (on a worker thread: a long text takes a while to encode) with
// one of the two, or its error body. Never throws.
void answer_tokens(Exchange& ex, const tokenizer::Tokenizer& tok, bool detokenize, const HttpHeaders& headers);

}  // namespace frugal::server
