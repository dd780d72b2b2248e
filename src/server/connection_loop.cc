#include "server/connection_loop.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "base/log.h"

namespace frugal::server {

namespace {

constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
constexpr size_t kReadBytes = 64 << 10;   // one read() call
constexpr int kReadsPerEvent = 4;         // reads per readiness event, so one fast sender cannot starve the rest
constexpr int kAcceptsPerEvent = 256;
constexpr std::chrono::milliseconds kSweepEvery{100};
// After a refusal, the client may still be sending the body: closing with
// unread bytes would reset the connection, and the reset can destroy the
// refusal before the client reads it. So the write side closes first and
// what still comes is read and dropped, for at most this long and this much.
constexpr std::chrono::milliseconds kLinger{2000};
constexpr size_t kLingerBytes = 4u << 20;

bool is_loopback(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

struct ConnectionLoop::Conn {
  int fd = -1;
  uint64_t id = 0;
  std::string in;   // received and not yet parsed
  std::string out;  // to write
  RequestParser parser;
  std::shared_ptr<Exchange> exchange;  // the request being answered; null while reading one
  bool answer_queued = false;  // the exchange's last bytes are in `out`
  bool keep_alive = true;      // of the answer being written
  bool close_after = false;    // close once `out` is written (a refused request)
  bool continue_sent = false;  // "100 Continue" for the request being read
  bool lingering = false;      // refused and answered: reading what the client still sends, then closing
  size_t discarded = 0;        // bytes read and dropped while lingering
  Clock::time_point read_since;   // the connection went idle, or the request began
  Clock::time_point write_since;  // the last progress writing `out`
  uint32_t interest = 0;          // registered epoll events
};

ConnectionLoop::ConnectionLoop(LoopOptions opts, RequestHandler handler)
    : opts_(std::move(opts)), handler_(std::move(handler)), mailbox_(std::make_shared<Mailbox>()) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  mailbox_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || mailbox_->wake_fd < 0) fail("serve: cannot create the event loop: ", std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, mailbox_->wake_fd, &ev);
}

ConnectionLoop::~ConnectionLoop() {
  while (!conns_.empty()) close_conn(conns_.begin()->first);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  {
    std::lock_guard lk(mailbox_->mu);
    mailbox_->open = false;
    ::close(mailbox_->wake_fd);
    mailbox_->wake_fd = -1;
    mailbox_->letters.clear();
  }
  ::close(epoll_fd_);
}

int ConnectionLoop::bind() {
  if (opts_.port < 0 || opts_.port > 65535) fail("serve: --port must be 0-65535, not ", opts_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(opts_.port);
  if (::getaddrinfo(opts_.host.c_str(), port.c_str(), &hints, &found) != 0 || !found)
    fail("serve: cannot listen on ", opts_.host, ":", opts_.port, " (not an address of this machine)");
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR only: SO_REUSEPORT would let a second server bind a port
    // already in use and take half of its connections.
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, opts_.backlog) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) fail("serve: cannot listen on ", opts_.host, ":", opts_.port, " (in use, or not an address of this machine)");
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  loopback_ = is_loopback(addr);
  const int bound = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  listen_fd_ = fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  return bound;
}

void ConnectionLoop::stop_accepting() {
  mailbox_->closing = true;
  mailbox_->wake();
}

void ConnectionLoop::stop() {
  mailbox_->stopping = true;
  mailbox_->wake();
}

void ConnectionLoop::run() {
  std::vector<epoll_event> events(256);
  Clock::time_point last_sweep = Clock::now();
  while (!mailbox_->stopping.load()) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(kSweepEvery.count()));
    if (n < 0 && errno != EINTR) {
      log_warn("serve: epoll_wait failed: ", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kListenId) accept_all();
      else if (id == kWakeId) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(mailbox_->wake_fd, &count, sizeof count);
      } else on_event(id, events[i].events);
    }
    drain_mailbox();
    if (mailbox_->closing.load() && !closed_idle_) close_idle();
    const Clock::time_point now = Clock::now();
    if (now - last_sweep >= kSweepEvery) {
      sweep(now);
      last_sweep = now;
    }
  }
  while (!conns_.empty()) close_conn(conns_.begin()->first);
}

void ConnectionLoop::accept_all() {
  for (int i = 0; i < kAcceptsPerEvent && listen_fd_ >= 0; ++i) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays in the backlog
        // and the listening socket stays readable, so stop watching it
        // until the next sweep rather than spin.
        log_warn("serve: cannot accept a connection: ", std::strerror(errno));
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accept_paused_ = true;
      }
      return;
    }
    if (conns_.size() >= opts_.max_connections) {
      const std::string body =
          opts_.error_body ? opts_.error_body(503, "the server has too many open connections; retry later") : "";
      const std::string busy = response_head(1, 503, {{"Content-Type", "application/json"}}, body.size(), false) + body;
      [[maybe_unused]] ssize_t w = ::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    // Events are small and streamed: send each at once rather than wait for
    // the previous one's acknowledgement.
    const int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->id = next_id_++;
    c->parser = RequestParser(opts_.limits);
    c->read_since = Clock::now();
    Conn& ref = *c;
    conns_.emplace(c->id, std::move(c));
    n_conns_ = conns_.size();
    watch(ref);
  }
}

void ConnectionLoop::watch(Conn& c) {
  uint32_t want = EPOLLRDHUP;
  // While an answer is under way the next request waits unread in the
  // socket; EPOLLRDHUP still says when the client goes away.
  if ((!c.exchange && !c.close_after) || c.lingering) want |= EPOLLIN;
  if (!c.out.empty()) want |= EPOLLOUT;
  if (want == c.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd_, c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
  c.interest = want;
}

void ConnectionLoop::on_event(uint64_t id, uint32_t events) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (events & (EPOLLERR | EPOLLHUP)) return close_conn(id);
  if ((events & EPOLLOUT) && !flush(c)) return;
  if (events & EPOLLIN) {
    if (!read_input(c)) return;
  } else if (events & EPOLLRDHUP) {
    // The client closed its side while its answer was under way (or while
    // nothing more was wanted from it): it is gone.
    return close_conn(id);
  }
}

bool ConnectionLoop::read_input(Conn& c) {
  char buf[kReadBytes];
  for (int i = 0; i < kReadsPerEvent; ++i) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0 && c.lingering) {
      c.discarded += static_cast<size_t>(n);
      if (c.discarded > kLingerBytes) break;
      continue;
    }
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    // End of stream or an error: whatever was half sent is dropped.
    close_conn(c.id);
    return false;
  }
  if (c.lingering) {
    if (c.discarded > kLingerBytes) {
      close_conn(c.id);
      return false;
    }
    return true;
  }
  return process_input(c);
}

bool ConnectionLoop::process_input(Conn& c) {
  while (!c.exchange && !c.close_after && !c.in.empty()) {
    const bool was_started = c.parser.started();
    const RequestParser::State s = c.parser.feed(c.in);
    if (!was_started && c.parser.started()) c.read_since = Clock::now();
    if (s == RequestParser::State::kError) {
      refuse(c, c.parser.error_status(), c.parser.error_message());
      break;
    }
    if (s == RequestParser::State::kBody && c.parser.request().expects_continue && !c.continue_sent) {
      c.continue_sent = true;
      c.out += "HTTP/1.1 100 Continue\r\n\r\n";
    }
    if (s != RequestParser::State::kDone) break;
    HttpRequest req = std::move(c.parser.request());
    c.parser.reset();
    c.continue_sent = false;
    c.exchange = std::make_shared<Exchange>(std::move(req), mailbox_, c.id);
    ++n_answering_;
    handler_(c.exchange);  // may answer at once: the letter is read in drain_mailbox
  }
  watch(c);
  return c.out.empty() ? true : flush(c);
}

void ConnectionLoop::refuse(Conn& c, int status, const std::string& message) {
  const std::string body = opts_.error_body ? opts_.error_body(status, message) : message;
  c.out += response_head(1, status, {{"Content-Type", "application/json"}}, body.size(), false) + body;
  c.close_after = true;
  c.in.clear();
  c.write_since = Clock::now();
}

bool ConnectionLoop::flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      c.write_since = Clock::now();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    close_conn(c.id);
    return false;
  }
  if (c.out.empty()) {
    if (c.close_after && !c.lingering) {
      ::shutdown(c.fd, SHUT_WR);
      c.lingering = true;
      c.in.clear();
      c.read_since = Clock::now();
    }
    if (c.answer_queued) {
      // The answer is written out: the connection is idle again, or done.
      c.exchange.reset();
      c.answer_queued = false;
      --n_answering_;
      if (!c.keep_alive || mailbox_->closing.load()) {
        close_conn(c.id);
        return false;
      }
      c.read_since = Clock::now();
      return process_input(c);  // a pipelined request may be waiting in `in`
    }
  }
  watch(c);
  return true;
}

void ConnectionLoop::drain_mailbox() {
  std::vector<Mailbox::Letter> letters;
  {
    std::lock_guard lk(mailbox_->mu);
    letters.swap(mailbox_->letters);
  }
  std::vector<uint64_t> touched;
  for (Mailbox::Letter& l : letters) {
    auto it = conns_.find(l.conn);
    if (it == conns_.end() || !it->second->exchange || it->second->answer_queued) continue;  // gone, or a late letter
    Conn& c = *it->second;
    if (c.out.empty()) c.write_since = Clock::now();
    c.out += l.bytes;
    if (l.end) {
      c.answer_queued = true;
      c.keep_alive = l.keep_alive;
    }
    if (touched.empty() || touched.back() != c.id) touched.push_back(c.id);
  }
  for (uint64_t id : touched) {
    auto it = conns_.find(id);
    if (it != conns_.end()) flush(*it->second);
  }
}

void ConnectionLoop::close_idle() {
  closed_idle_ = true;
  if (listen_fd_ >= 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  // Connections waiting for (or in the middle of sending) a request get no
  // more: a slow client cannot hold the exit.
  std::vector<uint64_t> idle;
  for (auto& [id, c] : conns_)
    if (!c->exchange && !c->close_after) idle.push_back(id);
  for (uint64_t id : idle) close_conn(id);
}

void ConnectionLoop::sweep(Clock::time_point now) {
  if (accept_paused_ && listen_fd_ >= 0) {
    accept_paused_ = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenId;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  }
  std::vector<uint64_t> expired, slow;
  for (auto& [id, c] : conns_) {
    if (c->lingering) {
      if (now - c->read_since > kLinger) expired.push_back(id);
    } else if (!c->out.empty()) {
      // The client stopped reading its answer.
      if (now - c->write_since > opts_.request_timeout) expired.push_back(id);
    } else if (!c->exchange && !c->close_after) {
      if (!c->parser.started()) {
        if (now - c->read_since > opts_.idle_timeout) expired.push_back(id);
      } else if (now - c->read_since > opts_.request_timeout) {
        slow.push_back(id);
      }
    }
  }
  for (uint64_t id : expired) close_conn(id);
  for (uint64_t id : slow) {
    Conn& c = *conns_.at(id);
    refuse(c, 408, "the request did not arrive within the server's --timeout");
    watch(c);
    flush(c);
  }
}

void ConnectionLoop::close_conn(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (c.exchange) {
    c.exchange->gone_ = true;
    --n_answering_;
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  conns_.erase(it);
  n_conns_ = conns_.size();
}

}  // namespace frugal::server
