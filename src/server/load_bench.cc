#include "server/load_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/error.h"
#include "base/mix64.h"
#include "server/load_prompt.h"

namespace frugal::server {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

int draw(const TokenRange& r, uint64_t seed, uint64_t index, uint64_t salt) {
  const uint64_t span = static_cast<uint64_t>(r.hi - r.lo) + 1;
  return r.lo + static_cast<int>(mix64(mix64(seed ^ salt) + index) % span);
}

std::string request_body(const LoadOptions& o, uint64_t index, RequestRecord& rec) {
  rec.prompt_words = draw(o.prompt_tokens, o.seed, index, 0x7072);
  rec.max_tokens = draw(o.max_tokens, o.seed, index, 0x6d6178);
  const std::string system = o.system_prompt_tokens > 0 ? load_system_prompt(o.seed, o.system_prompt_tokens) : "";
  const std::string user = load_prompt(o.seed, index, rec.prompt_words);
  json j;
  if (!o.model.empty()) j["model"] = o.model;
  if (o.chat) {
    j["messages"] = json::array();
    if (!system.empty()) j["messages"].push_back({{"role", "system"}, {"content", system}});
    j["messages"].push_back({{"role", "user"}, {"content", user}});
  } else {
    j["prompt"] = system.empty() ? user : system + "\n\n" + user;
  }
  j["max_tokens"] = rec.max_tokens;
  j["stream"] = true;
  // Asks for the exact output count; a server that ignores it still works
  // (the content events are counted instead).
  j["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) j["ignore_eos"] = true;
  return j.dump();
}

// Reads the server-sent events of one answer: splits lines, and for each
// "data:" line records text arrivals, the usage chunk, an error event or
// [DONE]. Events with the same arrival (one read) get the same timestamp:
// that is what the client saw.
class EventReader {
 public:
  EventReader(bool chat, Clock::time_point sent, RequestRecord& rec) : chat_(chat), sent_(sent), rec_(rec) {}

  bool feed(std::string_view data) {
    const Clock::time_point now = Clock::now();
    buffer_.append(data);
    size_t start = 0, nl;
    while ((nl = buffer_.find('\n', start)) != std::string::npos) {
      std::string_view line(buffer_.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.substr(0, 5) == "data:") on_data(line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5), now);
    }
    buffer_.erase(0, start);
    // A line without an end over 16 MiB is not an event stream.
    if (buffer_.size() > (16u << 20)) error_ = "an event line over 16 MiB";
    return error_.empty();
  }

  bool done() const { return done_; }
  const std::string& error() const { return error_; }
  int64_t text_events() const { return text_events_; }

 private:
  void on_data(std::string_view payload, Clock::time_point now) {
    if (payload == "[DONE]") {
      done_ = true;
      return;
    }
    const json j = json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      error_ = "a malformed event: " + std::string(payload.substr(0, 200));
      return;
    }
    if (j.contains("error")) {
      const json& e = j["error"];
      error_ = "error event: " + (e.is_object() && e.contains("message") && e["message"].is_string()
                                      ? e["message"].get<std::string>()
                                      : e.dump());
      return;
    }
    if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains("completion_tokens") &&
        j["usage"]["completion_tokens"].is_number_integer()) {
      rec_.output_tokens = j["usage"]["completion_tokens"].get<int64_t>();
      rec_.usage_reported = true;
      if (j["usage"].contains("prompt_tokens") && j["usage"]["prompt_tokens"].is_number_integer())
        rec_.prompt_tokens = j["usage"]["prompt_tokens"].get<int64_t>();
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
    const json& c = j["choices"][0];
    const json* text = nullptr;
    if (chat_) {
      if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content")) text = &c["delta"]["content"];
    } else if (c.contains("text")) {
      text = &c["text"];
    }
    if (!text || !text->is_string() || text->get_ref<const std::string&>().empty()) return;
    ++text_events_;
    if (rec_.ttft_seconds < 0) {
      rec_.ttft_seconds = seconds_between(sent_, now);
    } else {
      rec_.itl_seconds.push_back(seconds_between(last_, now));
    }
    last_ = now;
  }

  bool chat_;
  Clock::time_point sent_, last_;
  RequestRecord& rec_;
  std::string buffer_, error_;
  bool done_ = false;
  int64_t text_events_ = 0;
};

RequestRecord one_request(const LoadOptions& o, uint64_t index) {
  RequestRecord rec;
  HttpCall call;
  call.path = o.chat ? "/v1/chat/completions" : "/v1/completions";
  call.body = request_body(o, index, rec);
  call.total_seconds = o.timeout_seconds;
  call.connect_seconds = std::min(10.0, o.timeout_seconds);
  if (!o.api_key.empty()) call.headers.emplace_back("Authorization", "Bearer " + o.api_key);
  const Clock::time_point sent = Clock::now();
  EventReader events(o.chat, sent, rec);
  const HttpOutcome out = http_post(o.url, call, [&](std::string_view d) { return events.feed(d); });
  rec.seconds = seconds_between(sent, Clock::now());
  if (!rec.usage_reported) rec.output_tokens = events.text_events();
  if (!events.error().empty()) {
    rec.error = events.error();
  } else if (out.status == 0) {
    rec.error = out.error;
  } else if (out.status < 200 || out.status >= 300) {
    std::string body = out.error_body;
    const json j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("message") && j["error"]["message"].is_string())
      body = j["error"]["message"].get<std::string>();
    rec.error = str_cat("HTTP ", out.status, body.empty() ? "" : ": ", body.substr(0, 300));
  } else if (!out.error.empty()) {
    rec.error = out.error;
  } else if (!events.done()) {
    rec.error = "the stream ended without [DONE]";
  }
  rec.ok = rec.error.empty();
  return rec;
}

}  // namespace

void check_load_options(const LoadOptions& o) {
  if (o.clients < 1 || o.clients > 4096) fail("bench-serve: --clients must be from 1 to 4096");
  if (o.requests < 1) fail("bench-serve: --requests must be at least 1");
  if (o.system_prompt_tokens < 0 || o.system_prompt_tokens > 1000000)
    fail("bench-serve: --system-prompt-tokens must be from 0 to 1000000");
  if (!(o.timeout_seconds > 0) || o.timeout_seconds > 86400)
    fail("bench-serve: --timeout must be more than 0 (seconds, at most a day)");
}

TokenRange parse_token_range(const std::string& text, const std::string& flag, int min) {
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 7 || s.find_first_not_of("0123456789") != std::string::npos)
      fail("bench-serve: ", flag, " '", text, "': want N or A-B with whole numbers up to 1000000");
    const int v = std::stoi(s);
    if (v < min || v > 1000000) fail("bench-serve: ", flag, " '", text, "': each end must be from ", min, " to 1000000");
    return v;
  };
  const size_t dash = text.find('-');
  TokenRange r;
  r.lo = number(text.substr(0, dash));
  r.hi = dash == std::string::npos ? r.lo : number(text.substr(dash + 1));
  if (r.hi < r.lo) fail("bench-serve: ", flag, " '", text, "': the range is reversed");
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()));
  const size_t i = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(v.size()))) - 1;
  return v[i];
}

std::vector<RequestRecord> run_load(const LoadOptions& o, double& wall_seconds) {
  check_load_options(o);
  const std::string unreachable = http_probe(o.url, std::min(5.0, o.timeout_seconds));
  if (!unreachable.empty()) fail("bench-serve: ", unreachable, " (is the server running?)");

  // Request i is the same prompt and length whichever client sends it, so
  // runs with different --clients compare like with like.
  std::vector<RequestRecord> records(static_cast<size_t>(o.requests));
  std::atomic<int> next{0};
  const Clock::time_point t0 = Clock::now();
  std::vector<std::thread> clients;
  const int n = std::min(o.clients, o.requests);
  clients.reserve(static_cast<size_t>(n));
  for (int c = 0; c < n; ++c) {
    clients.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < o.requests;) {
        try {
          records[static_cast<size_t>(i)] = one_request(o, static_cast<uint64_t>(i));
        } catch (const std::exception& e) {  // bad_alloc and the like: one failed request, not a crash
          records[static_cast<size_t>(i)].error = e.what();
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  wall_seconds = seconds_between(t0, Clock::now());
  return records;
}

LoadSummary summarize_load(const std::vector<RequestRecord>& records, double wall_seconds) {
  LoadSummary s;
  s.wall_seconds = wall_seconds;
  std::vector<double> ttft, itl;
  std::map<std::string, int> errors;
  for (const RequestRecord& r : records) {
    if (!r.ok) {
      ++s.failed;
      ++errors[r.error];
      continue;
    }
    ++s.ok;
    s.output_tokens += r.output_tokens;
    if (r.usage_reported) ++s.usage_reported, s.prompt_tokens += r.prompt_tokens;
    if (r.ttft_seconds >= 0) ttft.push_back(r.ttft_seconds);
    itl.insert(itl.end(), r.itl_seconds.begin(), r.itl_seconds.end());
  }
  if (wall_seconds > 0) s.output_tokens_per_second = static_cast<double>(s.output_tokens) / wall_seconds;
  auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
  };
  s.ttft_p50 = percentile(ttft, 50);
  s.ttft_p99 = percentile(ttft, 99);
  s.ttft_mean = mean(ttft);
  s.itl_p50 = percentile(itl, 50);
  s.itl_p99 = percentile(itl, 99);
  s.itl_mean = mean(itl);
  std::vector<std::pair<std::string, int>> sorted(errors.begin(), errors.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [message, count] : sorted) s.errors.push_back(str_cat(count, "x ", message));
  return s;
}

}  // namespace frugal::server
