// The request parser on its own: framing, limits for every transfer
// encoding (refused as soon as they are passed, before the rest arrives),
// ambiguous framing refused, pipelined requests kept apart.
#include <gtest/gtest.h>

#include <random>

#include "server/http_request.h"

namespace frugal::server {
namespace {

using State = RequestParser::State;

// Feeds `text` a piece at a time; returns the final state.
State feed_in_pieces(RequestParser& p, const std::string& text, size_t piece, std::string& left) {
  State s = State::kHead;
  for (size_t i = 0; i < text.size() && s != State::kDone && s != State::kError; i += piece) {
    left += text.substr(i, piece);
    s = p.feed(left);
  }
  return s;
}

TEST(HttpRequest, HeadAndBodyByteByByte) {
  const std::string req =
      "POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type:  application/json \r\nContent-Length: 5\r\n\r\nhello";
  RequestParser p;
  std::string left;
  ASSERT_EQ(feed_in_pieces(p, req, 1, left), State::kDone);
  const HttpRequest& r = p.request();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/completions?x=1");
  EXPECT_EQ(r.path, "/v1/completions");
  EXPECT_EQ(*r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_TRUE(left.empty());
}

TEST(HttpRequest, PipelinedRequestsStayApart) {
  std::string in = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.0\r\n\r\n";
  RequestParser p;
  ASSERT_EQ(p.feed(in), State::kDone);
  EXPECT_EQ(p.request().path, "/a");
  p.reset();
  ASSERT_EQ(p.feed(in), State::kDone);
  EXPECT_EQ(p.request().path, "/b");
  EXPECT_FALSE(p.request().keep_alive);  // HTTP/1.0 without keep-alive
  EXPECT_TRUE(in.empty());
}

TEST(HttpRequest, ChunkedBodiesAreDecoded) {
  const std::string req =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nGET";
  for (size_t piece : {size_t{1}, size_t{3}, req.size()}) {
    RequestParser p;
    std::string left;
    ASSERT_EQ(feed_in_pieces(p, req, piece, left), State::kDone) << piece;
    EXPECT_EQ(p.request().body, "hello 0123456789");
    if (piece == req.size()) {
      EXPECT_EQ(left, "GET");
    }
  }
}

TEST(HttpRequest, ChunkedBodiesOverTheLimitAreRefusedAtOnce) {
  HttpLimits lim;
  lim.max_body_bytes = 100;
  // One chunk announced larger than the limit: refused from its size line.
  RequestParser p(lim);
  std::string in = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20000000\r\n";
  EXPECT_EQ(p.feed(in), State::kError);
  EXPECT_EQ(p.error_status(), 413);
  // Many small chunks: refused at the one that passes it.
  RequestParser q(lim);
  std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(q.feed(head), State::kBody);
  int chunks = 0;
  State s = State::kBody;
  while (s == State::kBody && chunks < 1000) {
    std::string c = "a\r\n0123456789\r\n";
    s = q.feed(c);
    ++chunks;
  }
  EXPECT_EQ(s, State::kError);
  EXPECT_EQ(q.error_status(), 413);
  EXPECT_EQ(chunks, 11);
  // Content-Length over the limit: refused from the head.
  RequestParser r(lim);
  std::string cl = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n";
  EXPECT_EQ(r.feed(cl), State::kError);
  EXPECT_EQ(r.error_status(), 413);
}

struct Bad {
  std::string text;
  int status;
};

TEST(HttpRequest, MalformedAndAmbiguousRequestsAreRefused) {
  HttpLimits lim;
  lim.max_head_bytes = 1024;
  const std::vector<Bad> cases = {
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(2000, '1'), 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET nothing HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01" "b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 431},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'a'), 431},  // no end of head yet
  };
  for (const Bad& b : cases) {
    RequestParser p(lim);
    std::string in = b.text;
    EXPECT_EQ(p.feed(in), State::kError) << b.text.substr(0, 80);
    EXPECT_EQ(p.error_status(), b.status) << b.text.substr(0, 80);
    EXPECT_FALSE(p.error_message().empty());
  }
  // Too many headers.
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 200; ++i) many += "A: b\r\n";
  many += "\r\n";
  HttpLimits big;
  RequestParser p(big);
  EXPECT_EQ(p.feed(many), State::kError);
  EXPECT_EQ(p.error_status(), 431);
}

TEST(HttpRequest, ConnectionAndExpectHeaders) {
  RequestParser p;
  std::string in = "POST / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";
  EXPECT_EQ(p.feed(in), State::kBody);
  EXPECT_FALSE(p.request().keep_alive);
  EXPECT_TRUE(p.request().expects_continue);
  RequestParser q;
  std::string old = "\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";  // a stray empty line first is allowed
  EXPECT_EQ(q.feed(old), State::kDone);
  EXPECT_TRUE(q.request().keep_alive);
}

// Mutations of well-formed requests (bytes changed, dropped, repeated),
// fed in pieces of random size: each ends complete within the limits,
// refused with a status the server sends, or waiting for more.
TEST(HttpRequest, TenThousandMutatedRequests) {
  const std::vector<std::string> bases = {
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{\"prompt\":\"a\"}",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  };
  const std::string alphabet = "\r\n :;0123456789abcdefABCDEF\t\x7f\x00-/?";
  std::mt19937 rng(42);
  HttpLimits lim;
  lim.max_head_bytes = 512;
  lim.max_body_bytes = 256;
  int done = 0, refused = 0, waiting = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string text = bases[rng() % bases.size()];
    for (int m = 0, n = 1 + static_cast<int>(rng() % 4); m < n && !text.empty(); ++m) {
      const size_t at = rng() % text.size();
      switch (rng() % 4) {
        case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(at, 1 + rng() % 8); break;
        case 2: text.insert(at, std::string(1 + rng() % 600, alphabet[rng() % alphabet.size()])); break;
        default: text.insert(at, text.substr(0, std::min<size_t>(text.size(), 64))); break;
      }
    }
    RequestParser p(lim);
    std::string in;
    const size_t piece = 1 + rng() % 64;
    State s = State::kHead;
    for (size_t at = 0; at < text.size() && s != State::kError; at += piece) {
      in.append(text, at, piece);
      while ((s = p.feed(in)) == State::kDone) {
        ASSERT_LE(p.request().body.size(), lim.max_body_bytes);
        ++done;
        p.reset();
      }
    }
    if (s == State::kError) {
      ++refused;
      const int st = p.error_status();
      ASSERT_TRUE(st == 400 || st == 413 || st == 417 || st == 431 || st == 501 || st == 505) << st;
    } else {
      ++waiting;
    }
  }
  EXPECT_GT(done, 1000);
  EXPECT_GT(refused, 1000);
  EXPECT_GT(waiting, 100);
}

}  // namespace
}  // namespace frugal::server
