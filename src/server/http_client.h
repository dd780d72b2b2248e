// A small blocking HTTP/1.1 client for the load generator (frugal
// bench-serve): one POST per connection, the response body handed over as it
// arrives (server-sent events), every wait bounded by a deadline. Plain http
// only; the body may be chunked, sized or closed-delimited, so it works with
// frugal serve and with llama.cpp's llama-server alike.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frugal::server {

struct HttpUrl {
  std::string host;         // name or address, without brackets
  std::string port = "80";
  std::string path_prefix;  // "" or "/something" (no trailing slash)
};

// Parses http://HOST[:PORT][/PREFIX]; throws frugal::Error on anything else
// (https, no host, a bad port).
HttpUrl parse_http_url(const std::string& url);

struct HttpCall {
  std::string path;  // appended to the URL's prefix
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;             // sent as application/json
  double connect_seconds = 5;   // to open the connection
  double total_seconds = 300;   // for the whole exchange
};

struct HttpOutcome {
  int status = 0;          // 0: no response (then `error` says why)
  std::string error;       // transport failure, timeout, or a stop asked by on_body
  std::string error_body;  // the start of a non-2xx body, for the message
};

// Sends `call` and feeds the decoded body of a 2xx response to on_body as it
// arrives; on_body returns false to stop reading. Never throws for network
// trouble: that goes in HttpOutcome::error.
HttpOutcome http_post(const HttpUrl& url, const HttpCall& call,
                      const std::function<bool(std::string_view)>& on_body);

// Opens and closes one connection: "" when the server accepts, else why not.
std::string http_probe(const HttpUrl& url, double connect_seconds);

}  // namespace frugal::server
