#include "server/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "base/error.h"

namespace frugal::server {
namespace {

using Clock = std::chrono::steady_clock;

// A socket that closes itself: every early return below releases it.
struct Socket {
  int fd = -1;
  explicit Socket(int f) : fd(f) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

// Waits for `events` on fd until the deadline: true when ready.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int ms = ms_until(deadline);
    const int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0 || (r < 0 && errno != EINTR)) return false;
  }
}

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Non-blocking connect to each address of host:port in turn; the socket stays
// non-blocking so that every later read and write goes through poll with the
// deadline (a blocking call could wait forever on a stalled server).
int open_connection(const HttpUrl& url, Clock::time_point deadline, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int gai = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &list);
  if (gai != 0) {
    error = str_cat("cannot resolve ", url.host, ": ", ::gai_strerror(gai));
    return -1;
  }
  error = str_cat("cannot connect to ", url.host, ":", url.port);
  int fd = -1;
  for (addrinfo* a = list; a && fd < 0; a = a->ai_next) {
    int s = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (s < 0) continue;
    int rc = ::connect(s, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (!wait_for(s, POLLOUT, deadline)) {
        error += ": timed out";
        ::close(s);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      fd = s;
    } else {
      error = str_cat("cannot connect to ", url.host, ":", url.port, ": ", std::strerror(errno));
      ::close(s);
    }
  }
  ::freeaddrinfo(list);
  return fd;
}

bool send_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a server that hangs up must not kill us with SIGPIPE.
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Reads what is there, waiting up to the deadline: > 0 bytes, 0 at end of
// stream, -1 on error, -2 on timeout.
ssize_t read_some(int fd, char* buf, size_t size, Clock::time_point deadline) {
  while (true) {
    const ssize_t n = ::recv(fd, buf, size, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -1;
    if (!wait_for(fd, POLLIN, deadline)) return -2;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Undoes the body framing: chunked (sizes in hex, each chunk then CRLF, then
// trailers up to an empty line), a Content-Length, or up to the close.
class BodyDecoder {
 public:
  enum class Mode { kChunked, kLength, kUntilClose };
  BodyDecoder(Mode mode, size_t length) : mode_(mode), left_(length) {}

  // Feeds raw bytes; passes decoded ones to `out`. False on a framing error.
  template <class Out>
  bool feed(std::string_view in, Out&& out) {
    if (mode_ == Mode::kUntilClose) return out(in), true;
    if (mode_ == Mode::kLength) {
      const size_t n = std::min(in.size(), left_);
      if (n > 0) out(in.substr(0, n));
      left_ -= n;
      return true;
    }
    while (!in.empty() && state_ != State::kDone) {
      if (state_ == State::kData) {
        const size_t n = std::min(in.size(), left_);
        out(in.substr(0, n));
        in.remove_prefix(n);
        left_ -= n;
        if (left_ == 0) state_ = State::kDataEnd;
        continue;
      }
      line_ += in.front();
      in.remove_prefix(1);
      if (line_.size() > 4096) return false;
      if (line_.size() < 2 || line_.compare(line_.size() - 2, 2, "\r\n") != 0) continue;
      std::string line = line_.substr(0, line_.size() - 2);
      line_.clear();
      if (state_ == State::kDataEnd) {
        if (!line.empty()) return false;
        state_ = State::kSize;
      } else if (state_ == State::kSize) {
        size_t size = 0, digits = 0;
        for (char c : line) {
          const int d = std::isxdigit(static_cast<unsigned char>(c))
                            ? (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10)
                            : -1;
          if (d < 0) break;  // a chunk extension (";...") follows
          if (++digits > 15) return false;
          size = size * 16 + static_cast<size_t>(d);
        }
        if (digits == 0) return false;
        left_ = size;
        state_ = size == 0 ? State::kTrailer : State::kData;
      } else if (line.empty()) {  // kTrailer: an empty line ends the message
        state_ = State::kDone;
      }
    }
    return true;
  }

  bool done() const {
    if (mode_ == Mode::kChunked) return state_ == State::kDone;
    return mode_ == Mode::kLength && left_ == 0;
  }
  bool ends_at_close() const { return mode_ == Mode::kUntilClose; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  Mode mode_;
  size_t left_;
  State state_ = State::kSize;
  std::string line_;
};

}  // namespace

HttpUrl parse_http_url(const std::string& text) {
  const std::string scheme = "http://";
  if (text.compare(0, scheme.size(), scheme) != 0)
    fail("bad URL '", text, "': only http://HOST[:PORT][/PATH] is supported");
  std::string rest = text.substr(scheme.size());
  HttpUrl u;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    u.path_prefix = rest.substr(slash);
    rest.resize(slash);
    while (!u.path_prefix.empty() && u.path_prefix.back() == '/') u.path_prefix.pop_back();
  }
  std::string port;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) fail("bad URL '", text, "': no ']' after the IPv6 address");
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') fail("bad URL '", text, "'");
      port = rest.substr(close + 2);
    }
  } else {
    const size_t colon = rest.find(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (u.host.empty()) fail("bad URL '", text, "': no host");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
        std::stoi(port) > 65535)
      fail("bad URL '", text, "': the port must be a number from 1 to 65535");
    u.port = port;
  }
  return u;
}

std::string http_probe(const HttpUrl& url, double connect_seconds) {
  std::string error;
  Socket s(open_connection(url, after(connect_seconds), error));
  return s.fd >= 0 ? "" : error;
}

HttpOutcome http_post(const HttpUrl& url, const HttpCall& call,
                      const std::function<bool(std::string_view)>& on_body) {
  HttpOutcome out;
  const Clock::time_point deadline = after(call.total_seconds);
  const Clock::time_point connect_deadline = std::min(deadline, after(call.connect_seconds));
  Socket s(open_connection(url, connect_deadline, out.error));
  if (s.fd < 0) return out;
  out.error.clear();

  // One request per connection (Connection: close): a load generator that
  // opens a connection per request measures what a new client sees.
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string head = str_cat("POST ", url.path_prefix, call.path, " HTTP/1.1\r\nHost: ", v6 ? "[" : "", url.host,
                             v6 ? "]" : "", ":", url.port,
                             "\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: "
                             "text/event-stream, application/json\r\nContent-Length: ",
                             call.body.size(), "\r\n");
  for (const auto& [k, v] : call.headers) head += str_cat(k, ": ", v, "\r\n");
  head += "\r\n";
  if (!send_all(s.fd, head, deadline) || !send_all(s.fd, call.body, deadline)) {
    out.error = Clock::now() >= deadline ? "timed out sending the request" : "the server closed the connection";
    return out;
  }

  // The head of the response: status line and headers, up to 64 KiB.
  std::string raw;
  char buf[16384];
  size_t head_end = std::string::npos;
  while (head_end == std::string::npos) {
    const ssize_t n = read_some(s.fd, buf, sizeof buf, deadline);
    if (n == -2) return out.error = "timed out waiting for the response", out;
    if (n <= 0) return out.error = "the server closed the connection before answering", out;
    raw.append(buf, static_cast<size_t>(n));
    head_end = raw.find("\r\n\r\n");
    if (head_end == std::string::npos && raw.size() > 65536) return out.error = "response head over 64 KiB", out;
  }
  const std::string response_head = raw.substr(0, head_end);
  std::string_view rest(raw);
  rest.remove_prefix(head_end + 4);
  if (response_head.compare(0, 7, "HTTP/1.") != 0 || response_head.size() < 12)
    return out.error = "not an HTTP/1.x response", out;
  out.status = std::atoi(response_head.c_str() + 9);
  if (out.status < 100 || out.status > 999) return out.status = 0, out.error = "bad HTTP status line", out;

  BodyDecoder::Mode mode = BodyDecoder::Mode::kUntilClose;
  size_t length = 0;
  size_t pos = response_head.find("\r\n");
  while (pos != std::string::npos) {
    const size_t next = response_head.find("\r\n", pos + 2);
    const std::string line =
        response_head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    pos = next;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string name = lower(line.substr(0, colon));
    const std::string value = lower(line.substr(colon + 1));
    if (name == "transfer-encoding" && value.find("chunked") != std::string::npos) {
      mode = BodyDecoder::Mode::kChunked;
    } else if (name == "content-length" && mode != BodyDecoder::Mode::kChunked) {
      mode = BodyDecoder::Mode::kLength;
      length = std::strtoull(value.c_str(), nullptr, 10);
    }
  }

  // A 2xx body goes to on_body; any other is kept (its start) for the message.
  const bool ok = out.status >= 200 && out.status < 300;
  bool stopped = false;
  auto deliver = [&](std::string_view piece) {
    if (stopped || piece.empty()) return;
    if (ok) {
      stopped = !on_body(piece);
    } else if (out.error_body.size() < 1024) {
      out.error_body.append(piece.substr(0, 1024 - out.error_body.size()));
    }
  };
  BodyDecoder body(mode, length);
  if (!body.feed(rest, deliver)) return out.error = "bad chunked framing", out;
  while (!body.done() && !stopped) {
    const ssize_t n = read_some(s.fd, buf, sizeof buf, deadline);
    if (n == -2) return out.error = "timed out reading the response", out;
    if (n < 0) return out.error = "connection error while reading the response", out;
    if (n == 0) {
      if (!body.ends_at_close()) out.error = "the server closed the connection mid-response";
      return out;
    }
    if (!body.feed(std::string_view(buf, static_cast<size_t>(n)), deliver))
      return out.error = "bad chunked framing", out;
  }
  if (stopped) out.error = "stopped reading";
  return out;
}

}  // namespace frugal::server
