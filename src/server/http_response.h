// The bytes of an HTTP/1.x response: the status line and headers, and the
// chunked framing of a streamed body.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frugal::server {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// "OK", "Not Found", ... ("" for a status this server does not send).
const char* status_reason(int status);

// The status line and headers, ending with the empty line. With a
// content_length the body follows whole; without one it follows chunked
// (HTTP/1.1) or until the connection closes (HTTP/1.0: keep_alive must be false).
std::string response_head(int minor, int status, const HttpHeaders& headers, std::optional<size_t> content_length,
                          bool keep_alive);

// One chunk of a chunked body ("" for empty data: an empty chunk would end the body).
std::string chunk(std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace frugal::server
