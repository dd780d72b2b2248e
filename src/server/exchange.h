// One request and its answer, and the mailbox that carries the answer's
// bytes from whichever thread writes them to the connection loop, the only
// thread that touches sockets.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_request.h"
#include "server/http_response.h"

namespace frugal::server {

// What answering threads hand to the loop: bytes for a connection, and
// whether the answer has ended. Shared with every Exchange, so that an
// Exchange outliving the loop posts into a closed box rather than freed memory.
struct Mailbox {
  struct Letter {
    uint64_t conn;
    std::string bytes;
    bool end;
    bool keep_alive;
  };
  std::mutex mu;
  std::vector<Letter> letters;  // guarded by mu
  int wake_fd = -1;             // eventfd; guarded by mu once the loop runs
  bool open = true;             // guarded by mu
  std::atomic<bool> closing{false};  // stop_accepting(): answers close their connections
  std::atomic<bool> stopping{false}; // stop(): run() returns

  void post(Letter l);
  void wake();  // the loop looks at its flags

 private:
  void wake_locked();
};

// One request and its answer. Thread-safe. Answer with respond(), or with
// start_stream(), send()... and end_stream(); anything after the end is
// dropped, and so is everything once the client has gone.
class Exchange {
 public:
  Exchange(HttpRequest req, std::shared_ptr<Mailbox> mailbox, uint64_t conn);
  const HttpRequest& request() const { return req_; }

  // A whole answer (a HEAD request gets the head only).
  void respond(int status, HttpHeaders headers, std::string body);
  // A streamed answer: the head now, the body as it comes.
  void start_stream(int status, HttpHeaders headers);
  void send(std::string_view data);
  void end_stream();

  // The connection closed before the answer was written out: stop working on it.
  bool client_gone() const { return gone_.load(); }
  bool ended() const { return ended_.load(); }

 private:
  friend class ConnectionLoop;
  void post(std::string bytes, bool end);

  HttpRequest req_;
  std::shared_ptr<Mailbox> mailbox_;
  uint64_t conn_;
  std::atomic<bool> gone_{false};
  std::atomic<bool> ended_{false};
  bool keep_alive_ = true;  // decided when the head is written
  bool chunked_ = false;
};

}  // namespace frugal::server
