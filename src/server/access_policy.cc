#include "server/access_policy.h"

#include <algorithm>

namespace frugal::server {

namespace {

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The name in a Host header, without its port.
std::string host_name(const std::string& host) {
  if (!host.empty() && host[0] == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

// "localhost", "127.x.y.z" or "[::1]", with or without a port.
bool names_loopback(std::string host) {
  host = lower(host);
  std::string name;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos) return false;
    name = host.substr(1, close - 1);
    const std::string rest = host.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return false;
    return name == "::1";
  }
  const size_t colon = host.find(':');
  name = host.substr(0, colon);
  if (colon != std::string::npos &&
      !std::all_of(host.begin() + static_cast<long>(colon) + 1, host.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  if (name == "localhost" || name == "localhost.") return true;
  if (name.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : name) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

// Compares without stopping at the first difference: the time taken says
// nothing about how much of a guessed key was right.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

AccessDecision check_access(const HttpRequest& req, const AccessOptions& opts) {
  AccessDecision d;
  const std::string* host = req.header("host");
  const auto listed_host = [&] {
    const std::string name = lower(host_name(*host));
    return std::any_of(opts.allowed_hosts.begin(), opts.allowed_hosts.end(),
                       [&](const std::string& h) { return lower(h) == name; });
  };
  if (opts.loopback_only_hosts && host && !names_loopback(*host) && !listed_host()) {
    d.status = 403;
    d.message = "the Host header names '" + *host +
                "': this server listens on loopback and answers only to localhost, 127.0.0.1, [::1] and --allowed-hosts";
    return d;
  }
  if (const std::string* origin = req.header("origin")) {
    const bool same = host && lower(*origin) == "http://" + lower(*host);
    const bool listed = std::any_of(opts.allowed_origins.begin(), opts.allowed_origins.end(),
                                    [&](const std::string& o) { return o == "*" || lower(o) == lower(*origin); });
    if (!same && !listed) {
      d.status = 403;
      d.message = "requests from the web origin '" + *origin + "' are not allowed (see --allowed-origins)";
      return d;
    }
    if (listed) {
      d.headers = {{"Access-Control-Allow-Origin", *origin}, {"Vary", "Origin"}};
    }
  }
  // A preflight carries no credentials; /health is for load balancers and
  // probes that hold no key; the chat page (GET /) is what a browser opens
  // before it can send one: the page holds nothing but itself, and asks for
  // the key for its requests.
  const bool page = (req.method == "GET" || req.method == "HEAD") && req.path == "/";
  if (!opts.api_keys.empty() && req.method != "OPTIONS" && req.path != "/health" && !page) {
    const std::string* auth = req.header("authorization");
    std::string given;
    if (auth && auth->size() > 7 && lower(auth->substr(0, 7)) == "bearer ") given = auth->substr(7);
    bool ok = false;
    for (const std::string& k : opts.api_keys) ok |= same_secret(given, k);
    if (!ok) {
      d.status = 401;
      d.message = auth ? "the API key given is not valid" : "an API key is needed: send the header Authorization: Bearer KEY";
      d.code = "invalid_api_key";
      d.headers.emplace_back("WWW-Authenticate", "Bearer");
    }
  }
  return d;
}

HttpHeaders preflight_headers(const HttpRequest& req) {
  HttpHeaders h = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"}, {"Access-Control-Max-Age", "600"}};
  if (const std::string* want = req.header("access-control-request-headers"))
    h.emplace_back("Access-Control-Allow-Headers", *want);
  return h;
}

}  // namespace frugal::server
