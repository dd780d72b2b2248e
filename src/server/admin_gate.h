// The gate of the operator's endpoints (the adapter admin's, the expert
// placement's): they read files on the server's disk or tell how its
// traffic routes, so they are on only behind an API key (which the access
// check has then verified), or with --enable-admin on a loopback address;
// and never for browsers (a request with an Origin header is refused),
// whatever --allowed-origins says: a web page could otherwise make a
// visitor's browser use them.
#pragma once
#include <optional>
#include <string>

#include "server/http_request.h"
#include "server/http_server.h"

namespace frugal::server {

// Why `q` may not use the endpoints called `what` ("the adapter admin
// endpoints"), or nothing when it may. The refusal is a 403 with the code
// "admin_disabled".
std::optional<std::string> admin_refusal(const HttpRequest& q, const ServerOptions& opts, const std::string& what);

}  // namespace frugal::server
