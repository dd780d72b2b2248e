// Plain loopback sockets for the tests that a well-behaved HTTP client
// cannot play: clients that send a request a byte at a time, hold idle
// connections, send bodies the server must refuse, or leave mid-answer.
// Every wait has a deadline, so a server that hangs fails the test instead.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

namespace frugal::server::testing {

// A connected socket to 127.0.0.1:port, or -1.
inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads into `buf` until `done(buf)` holds, the peer closes, or the deadline
// passes. True: done(buf) holds.
template <typename Done>
bool read_until(int fd, std::string& buf, Done done, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  char tmp[16384];
  while (!done(buf)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return done(buf);
    buf.append(tmp, static_cast<size_t>(n));
  }
  return true;
}

// Until the peer closes (true) or the deadline passes (false).
inline bool read_to_close(int fd, std::string& buf, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  char tmp[16384];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

// The status code of the first response in buf (0 if none yet).
inline int status_of(const std::string& buf) {
  if (buf.rfind("HTTP/1.", 0) != 0 || buf.size() < 12) return 0;
  return std::atoi(buf.substr(9, 3).c_str());
}

// A whole response is in buf (with Content-Length, chunked, or a 204).
inline bool has_whole_response(const std::string& buf) {
  const size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  if (buf.compare(9, 3, "204") == 0) return true;  // no body
  const size_t cl = buf.find("Content-Length: ");
  if (cl == std::string::npos || cl > head_end) return buf.find("0\r\n\r\n", head_end) != std::string::npos;
  return buf.size() >= head_end + 4 + std::stoul(buf.substr(cl + 16));
}

// The soft limit on open files raised to at least `want` (false: the hard limit is lower).
inline bool allow_open_files(rlim_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur >= want) return true;
  if (lim.rlim_max < want) return false;
  lim.rlim_cur = want;
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

}  // namespace frugal::server::testing
