#include "server/exchange.h"

#include <unistd.h>

namespace frugal::server {

void Mailbox::post(Letter l) {
  std::lock_guard lk(mu);
  if (!open) return;
  const bool was_empty = letters.empty();
  letters.push_back(std::move(l));
  if (was_empty) wake_locked();
}

void Mailbox::wake() {
  std::lock_guard lk(mu);
  if (open) wake_locked();
}

void Mailbox::wake_locked() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof one);
}

Exchange::Exchange(HttpRequest req, std::shared_ptr<Mailbox> mailbox, uint64_t conn)
    : req_(std::move(req)), mailbox_(std::move(mailbox)), conn_(conn) {}

void Exchange::post(std::string bytes, bool end) {
  mailbox_->post({conn_, std::move(bytes), end, keep_alive_});
}

void Exchange::respond(int status, HttpHeaders headers, std::string body) {
  if (ended_.exchange(true)) return;
  keep_alive_ = req_.keep_alive && !mailbox_->closing.load();
  std::string bytes = response_head(req_.minor, status, headers, body.size(), keep_alive_);
  if (req_.method != "HEAD") bytes += body;
  post(std::move(bytes), true);
}

void Exchange::start_stream(int status, HttpHeaders headers) {
  if (ended_.load()) return;
  // HTTP/1.0 has no chunked framing: the body ends when the connection does.
  chunked_ = req_.minor == 1;
  keep_alive_ = chunked_ && req_.keep_alive && !mailbox_->closing.load();
  post(response_head(req_.minor, status, headers, std::nullopt, keep_alive_), false);
}

void Exchange::send(std::string_view data) {
  if (ended_.load() || data.empty()) return;
  post(chunked_ ? chunk(data) : std::string(data), false);
}

void Exchange::end_stream() {
  if (ended_.exchange(true)) return;
  post(chunked_ ? std::string(kLastChunk) : std::string(), true);
}

}  // namespace frugal::server
