#include "server/http_request.h"

#include <algorithm>

namespace frugal::server {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters (methods and header names).
bool token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), token_char); }

// Decimal digits only (no sign, no spaces inside), at most 18 of them: no overflow.
bool parse_length(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// A chunk-size line's hex number (extensions after ';' ignored), at most 15
// digits: no overflow.
bool parse_chunk_size(std::string_view line, uint64_t& out) {
  const size_t semi = line.find(';');
  std::string_view hex = trim(line.substr(0, semi));
  if (hex.empty() || hex.size() > 15) return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

// Each comma-separated element of a header value, trimmed.
template <typename F>
void for_each_element(std::string_view v, F f) {
  while (true) {
    const size_t comma = v.find(',');
    const std::string_view e = trim(v.substr(0, comma));
    if (!e.empty()) f(e);
    if (comma == std::string_view::npos) return;
    v.remove_prefix(comma + 1);
  }
}

constexpr size_t kMaxChunkLine = 1024;  // a chunk-size line with its extensions

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

void RequestParser::reset() {
  const HttpLimits limits = limits_;
  *this = RequestParser(limits);
}

RequestParser::State RequestParser::fail(int status, std::string message) {
  state_ = State::kError;
  error_status_ = status;
  error_message_ = std::move(message);
  return state_;
}

RequestParser::State RequestParser::feed(std::string& in) {
  if (state_ == State::kHead) {
    // Empty lines before a request line are allowed (RFC 9112 2.2): some
    // clients send a CRLF after a body.
    if (!started_) {
      size_t skip = 0;
      while (skip < in.size() && (in[skip] == '\r' || in[skip] == '\n')) ++skip;
      in.erase(0, skip);
      if (in.empty()) return state_;
      started_ = true;
    }
    // Search only the bytes not searched before: a head that arrives a byte
    // at a time costs linear time, not quadratic.
    const size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    const size_t end = in.find("\r\n\r\n", from);
    if (end == std::string::npos) {
      scanned_ = in.size();
      if (in.size() > limits_.max_head_bytes) return fail(431, "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
      return state_;
    }
    if (end + 4 > limits_.max_head_bytes) return fail(431, "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
    const std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    if (parse_head(head) == State::kError) return state_;
    state_ = State::kBody;
    if (!chunked_ && content_length_ == 0) return state_ = State::kDone;
  }
  if (state_ == State::kBody) {
    if (chunked_) return feed_chunked(in);
    const size_t want = static_cast<size_t>(content_length_) - req_.body.size();
    const size_t take = std::min(want, in.size());
    req_.body.append(in, 0, take);
    in.erase(0, take);
    if (req_.body.size() == content_length_) state_ = State::kDone;
  }
  return state_;
}

RequestParser::State RequestParser::parse_head(std::string_view head) {
  size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);

  // Request line: METHOD SP target SP HTTP/1.x, single spaces.
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "the request line is not METHOD TARGET HTTP/1.x");
  const std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                         version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "the request method is not a token");
  if (target.empty() || (target[0] != '/' && target != "*"))
    return fail(400, "the request target must be a path beginning with /");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail(400, "the request target holds a control character");
  if (version == "HTTP/1.1") req_.minor = 1;
  else if (version == "HTTP/1.0") req_.minor = 0;
  else if (version.substr(0, 5) == "HTTP/") return fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
  else return fail(400, "the request line does not end with an HTTP version");
  req_.method = std::string(method);
  req_.target = std::string(target);
  req_.path = req_.target.substr(0, req_.target.find('?'));

  // Headers.
  while (!head.empty()) {
    eol = head.find("\r\n");
    const std::string_view h = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    if (h.empty()) continue;
    if (h[0] == ' ' || h[0] == '\t') return fail(400, "folded header lines are not accepted");
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos || !is_token(h.substr(0, colon)))
      return fail(400, "a header line is not NAME: VALUE");
    const std::string_view value = trim(h.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return fail(400, "a header value holds a control character");
    if (req_.headers.size() >= limits_.max_headers)
      return fail(431, "more than " + std::to_string(limits_.max_headers) + " headers");
    req_.headers.emplace_back(to_lower(h.substr(0, colon)), std::string(value));
  }

  // Framing: Content-Length or chunked, never both, never two lengths.
  bool has_length = false;
  int n_host = 0;
  req_.keep_alive = req_.minor == 1;
  for (const auto& [name, value] : req_.headers) {
    if (name == "content-length") {
      uint64_t n = 0;
      if (!parse_length(value, n)) return fail(400, "Content-Length is not a number");
      if (has_length && n != content_length_) return fail(400, "two different Content-Length headers");
      has_length = true;
      content_length_ = n;
    } else if (name == "transfer-encoding") {
      if (req_.minor == 0) return fail(400, "Transfer-Encoding is not HTTP/1.0");
      bool only_chunked = !chunked_;
      int n_codings = 0;
      for_each_element(value, [&](std::string_view e) {
        ++n_codings;
        if (!iequals(e, "chunked")) only_chunked = false;
      });
      if (!only_chunked || n_codings != 1) return fail(501, "the only Transfer-Encoding served is chunked");
      chunked_ = true;
    } else if (name == "connection") {
      for_each_element(value, [&](std::string_view e) {
        if (iequals(e, "close")) req_.keep_alive = false;
        else if (iequals(e, "keep-alive") && req_.minor == 0) req_.keep_alive = true;
      });
    } else if (name == "expect") {
      if (!iequals(value, "100-continue")) return fail(417, "the only expectation served is 100-continue");
      req_.expects_continue = req_.minor == 1;
    } else if (name == "host") {
      ++n_host;
    }
  }
  if (chunked_ && has_length) return fail(400, "Content-Length and Transfer-Encoding together");
  if (n_host > 1 || (req_.minor == 1 && n_host == 0)) return fail(400, "an HTTP/1.1 request needs one Host header");
  if (content_length_ > limits_.max_body_bytes)
    return fail(413, "the request body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
  if (!chunked_ && content_length_ == 0) req_.expects_continue = false;
  return state_;
}

RequestParser::State RequestParser::feed_chunked(std::string& in) {
  size_t pos = 0;  // consumed from `in`
  while (state_ == State::kBody) {
    if (chunk_ == Chunk::kSize || chunk_ == Chunk::kTrailers || chunk_ == Chunk::kDataEnd) {
      const size_t eol = in.find("\r\n", pos);
      const size_t limit = chunk_ == Chunk::kTrailers ? limits_.max_head_bytes - std::min(trailer_bytes_, limits_.max_head_bytes)
                                                      : kMaxChunkLine;
      if (eol == std::string::npos) {
        if (in.size() - pos > limit) return fail(chunk_ == Chunk::kTrailers ? 431 : 400, "a chunk line is too long");
        break;
      }
      const std::string_view line(in.data() + pos, eol - pos);
      if (line.size() > limit) return fail(chunk_ == Chunk::kTrailers ? 431 : 400, "a chunk line is too long");
      pos = eol + 2;
      if (chunk_ == Chunk::kDataEnd) {
        if (!line.empty()) return fail(400, "a chunk's data does not end with CRLF");
        chunk_ = Chunk::kSize;
      } else if (chunk_ == Chunk::kTrailers) {
        trailer_bytes_ += line.size() + 2;
        if (line.empty()) state_ = State::kDone;  // trailers are read and dropped
      } else {
        uint64_t n = 0;
        if (!parse_chunk_size(line, n)) return fail(400, "a chunk size is not a hex number");
        if (n > limits_.max_body_bytes - req_.body.size())
          return fail(413, "the request body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
        if (n == 0) chunk_ = Chunk::kTrailers;
        else {
          chunk_ = Chunk::kData;
          chunk_left_ = n;
        }
      }
    } else {  // kData
      const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in.size() - pos));
      if (take == 0) break;
      req_.body.append(in, pos, take);
      pos += take;
      chunk_left_ -= take;
      if (chunk_left_ == 0) chunk_ = Chunk::kDataEnd;
    }
  }
  in.erase(0, pos);
  return state_;
}

}  // namespace frugal::server
