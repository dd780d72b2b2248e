// Who may use the server, checked before any route: the Host header when it
// listens on loopback (a web page that rebinds its own name to 127.0.0.1
// would otherwise reach it), the Origin of a browser's request (any page can
// send a "simple" cross-origin POST without a preflight and spend this
// server's compute), and an API key when one is set.
#pragma once
#include <string>
#include <vector>

#include "server/http_request.h"
#include "server/http_response.h"

namespace frugal::server {

struct AccessOptions {
  bool loopback_only_hosts = false;          // bound to loopback: Host must name this machine
  std::vector<std::string> allowed_hosts;    // other Host names accepted then (a proxy's), without port
  std::vector<std::string> allowed_origins;  // browser origins allowed besides the server's own ("*": any)
  std::vector<std::string> api_keys;         // none: no key needed
};

struct AccessDecision {
  int status = 0;       // 0: allowed; else 401 or 403
  std::string message;  // why not
  std::string code;     // OpenAI error code ("invalid_api_key") or ""
  HttpHeaders headers;  // to add to the answer (CORS, WWW-Authenticate)
};

AccessDecision check_access(const HttpRequest& req, const AccessOptions& opts);

// The answer to a CORS preflight (OPTIONS) that check_access allowed.
HttpHeaders preflight_headers(const HttpRequest& req);

}  // namespace frugal::server
