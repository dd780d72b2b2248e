#include "server/admin_gate.h"

namespace frugal::server {

std::optional<std::string> admin_refusal(const HttpRequest& q, const ServerOptions& opts, const std::string& what) {
  if (opts.api_keys.empty() && !opts.admin_without_key)
    return what + " are off: start frugal serve with --api-key (or --api-key-file), or with --enable-admin on a "
                  "loopback address";
  if (q.header("origin")) return what + " do not answer browsers (the request has an Origin header)";
  return std::nullopt;
}

}  // namespace frugal::server
