// libFuzzer target for the HTTP request parser (src/server/http_request):
// any bytes, fed in pieces of any size, end as a complete request within the
// limits, a refusal with one of the statuses the server sends, or a wait for
// more; never a crash, an out-of-bounds read or a body over the limit.
//
// The first input byte picks the piece size (1-256 bytes, as a slow client or
// a fast one sends); the rest is what arrives on one connection, pipelined
// requests included.
//
// With FRUGAL_FUZZ_WRITE_SEEDS=DIR in the environment the binary writes a seed
// corpus of well-formed and near-miss requests into DIR and exits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "server/http_request.h"
#include "fuzz_seeds.h"

namespace {

using frugal::server::HttpLimits;
using frugal::server::RequestParser;
using State = RequestParser::State;

void write_seeds(const std::string& dir) {
  const std::vector<std::string> seeds = {
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{\"prompt\":\"a\"}",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
      "GET / HTTP/2.0\r\n\r\n",
  };
  int k = 0;
  for (const std::string& s : seeds) {
    std::ofstream out(dir + "/seed" + std::to_string(k++), std::ios::binary);
    out.put(static_cast<char>(k * 37));
    out << s;
  }
}

bool expected_status(int s) {
  return s == 400 || s == 413 || s == 417 || s == 431 || s == 501 || s == 505;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  frugal::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0];
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  HttpLimits lim;
  lim.max_head_bytes = 1024;
  lim.max_headers = 16;
  lim.max_body_bytes = 4096;
  RequestParser p(lim);
  std::string in;
  for (size_t at = 0; at < input.size(); at += piece) {
    in.append(input, at, piece);
    // Every complete request on the connection, in order, until a refusal.
    while (true) {
      const State s = p.feed(in);
      if (s == State::kError) {
        if (!expected_status(p.error_status()) || p.error_message().empty()) std::abort();
        return 0;
      }
      if (s != State::kDone) break;
      if (p.request().body.size() > lim.max_body_bytes) std::abort();
      if (p.request().path.empty() || p.request().path.size() > p.request().target.size()) std::abort();
      p.reset();
    }
    if (in.size() > lim.max_head_bytes + input.size()) std::abort();
  }
  return 0;
}
