// The server's connections on one thread with epoll: accepting, reading
// requests, writing answers and enforcing timeouts. A connection costs a
// socket and two buffers, not a thread, so idle keep-alive clients and
// clients that send their request a byte at a time cannot take the server's
// threads: a request reaches its handler only once it has arrived whole.
//
// The handler runs on the loop thread and must not block: it answers at once
// (a health check, a page) or hands the Exchange to a thread of its own.
// Whoever holds the Exchange answers it from any thread; the bytes travel to
// the loop through a mailbox, and only the loop touches sockets.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "server/exchange.h"
#include "server/http_request.h"

namespace frugal::server {

struct LoopOptions {
  std::string host = "127.0.0.1";
  int port = 0;                    // 0: any free port
  int backlog = 1024;              // the kernel caps it at net.core.somaxconn
  size_t max_connections = 4096;   // more are answered 503 and closed
  // A connection with no request under way is closed after this long.
  std::chrono::milliseconds idle_timeout{30000};
  // A request must arrive whole (head and body) within this long of its
  // first byte, and an answer that the client stops reading is dropped
  // after this long without progress.
  std::chrono::milliseconds request_timeout{60000};
  HttpLimits limits;
  // The JSON body of an error the loop answers by itself (a malformed request, a timeout).
  std::function<std::string(int status, const std::string& message)> error_body;
};

using RequestHandler = std::function<void(std::shared_ptr<Exchange>)>;

class ConnectionLoop {
 public:
  ConnectionLoop(LoopOptions opts, RequestHandler handler);
  ~ConnectionLoop();
  ConnectionLoop(const ConnectionLoop&) = delete;
  ConnectionLoop& operator=(const ConnectionLoop&) = delete;

  // Listens on the address (frugal::Error when it cannot); returns the port.
  int bind();
  // Bound to a loopback address (127.0.0.0/8 or ::1).
  bool loopback() const { return loopback_; }
  // Serves until stop().
  void run();
  // From any thread: close the listening socket and the connections that
  // have no request under way; answers under way are written out, then
  // their connections close.
  void stop_accepting();
  // From any thread: run() returns; every connection closes.
  void stop();

  size_t connections() const { return n_conns_.load(); }
  // Requests received whose answers are not yet written out.
  size_t answering() const { return n_answering_.load(); }

 private:
  struct Conn;
  using Clock = std::chrono::steady_clock;

  void accept_all();
  void on_event(uint64_t id, uint32_t events);
  bool read_input(Conn& c);                // false: the connection closed
  bool process_input(Conn& c);             // false: the connection closed
  bool flush(Conn& c);                     // false: the connection closed
  void refuse(Conn& c, int status, const std::string& message);
  void close_conn(uint64_t id);
  void watch(Conn& c);                     // epoll interest from the connection's state
  void drain_mailbox();
  void sweep(Clock::time_point now);       // timeouts
  void close_idle();                       // stop_accepting's work, on the loop thread

  LoopOptions opts_;
  RequestHandler handler_;
  std::shared_ptr<Mailbox> mailbox_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  bool loopback_ = false;
  bool accept_paused_ = false;  // out of file descriptors: accepting resumes at the next sweep
  bool closed_idle_ = false;
  uint64_t next_id_ = 2;        // 0: the listening socket, 1: the mailbox's wake-up
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::atomic<size_t> n_conns_{0};
  std::atomic<size_t> n_answering_{0};
};

}  // namespace frugal::server
