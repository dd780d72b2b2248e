#include "server/http_response.h"

#include <cstdio>

namespace frugal::server {

const char* status_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

std::string response_head(int minor, int status, const HttpHeaders& headers, std::optional<size_t> content_length,
                          bool keep_alive) {
  std::string s = "HTTP/1." + std::to_string(minor) + " " + std::to_string(status) + " " + status_reason(status) + "\r\n";
  for (const auto& [k, v] : headers) s += k + ": " + v + "\r\n";
  // A 204 has no body and may not say it has one (RFC 9110 8.6).
  if (status == 204) {
  } else if (content_length) s += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  else if (minor == 1) s += "Transfer-Encoding: chunked\r\n";
  if (minor == 1 && !keep_alive) s += "Connection: close\r\n";
  if (minor == 0 && keep_alive) s += "Connection: keep-alive\r\n";
  s += "\r\n";
  return s;
}

std::string chunk(std::string_view data) {
  if (data.empty()) return "";
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string s(size);
  s.append(data);
  s += "\r\n";
  return s;
}

}  // namespace frugal::server
