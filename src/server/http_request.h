// An HTTP/1.x request read incrementally from a connection's bytes, with
// limits that hold however the body is framed: the head (request line and
// headers) and the body, whether sent with Content-Length or chunked, are
// refused as soon as they pass their limit, before the rest is read.
// Ambiguous framing (Content-Length with Transfer-Encoding, two different
// lengths) is refused too: a proxy in front might read it another way.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frugal::server {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // target up to '?'
  int minor = 1;       // HTTP/1.minor
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, values trimmed
  std::string body;    // decoded (chunked framing removed)
  bool keep_alive = true;        // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"
  bool expects_continue = false; // "Expect: 100-continue"

  // The first header of that name (lower case), or null.
  const std::string* header(std::string_view name) const;
};

struct HttpLimits {
  size_t max_head_bytes = 16 << 10;  // request line and headers (and a chunked body's trailers)
  size_t max_headers = 100;
  size_t max_body_bytes = 8 << 20;   // decoded body, for every framing
};

class RequestParser {
 public:
  enum class State {
    kHead,    // reading the request line and headers
    kBody,    // the head is complete; reading the body
    kDone,    // request() is complete
    kError,   // the request is refused: error_status(), error_message()
  };

  explicit RequestParser(HttpLimits limits = {}) : limits_(limits) {}

  // Consumes bytes from the front of `in` (what is left belongs to the next
  // request, pipelined). Returns the state reached.
  State feed(std::string& in);

  State state() const { return state_; }
  // Some byte of a request has been seen (a connection between requests is idle).
  bool started() const { return started_; }
  HttpRequest& request() { return req_; }
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }
  // Ready for the next request on the same connection.
  void reset();

 private:
  State fail(int status, std::string message);
  State parse_head(std::string_view head);
  State feed_chunked(std::string& in);

  HttpLimits limits_;
  State state_ = State::kHead;
  bool started_ = false;
  size_t scanned_ = 0;  // bytes of `in` already searched for the end of the head
  HttpRequest req_;
  bool chunked_ = false;
  uint64_t content_length_ = 0;
  // Chunked body state.
  enum class Chunk { kSize, kData, kDataEnd, kTrailers } chunk_ = Chunk::kSize;
  uint64_t chunk_left_ = 0;
  size_t trailer_bytes_ = 0;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace frugal::server
