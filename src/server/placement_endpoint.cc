#include "server/placement_endpoint.h"

#include <charconv>
#include <string_view>

#include "model/expert_placement.h"
#include "model/model.h"
#include "server/admin_gate.h"
#include "server/completion_answer.h"
#include "server/openai_response.h"

namespace frugal::server {
namespace {

void answer(Exchange& ex, int status, std::string body, HttpHeaders headers) {
  headers.emplace_back("Content-Type", "application/json");
  ex.respond(status, std::move(headers), std::move(body));
}

struct BadQuery {
  std::string message, param;
};

// ranks and replicas from the query ("ranks=2&replicas=1"); anything else
// is the client's mistake.
void parse_query(std::string_view query, int& ranks, int& replicas) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    int* target = key == "ranks" ? &ranks : key == "replicas" ? &replicas : nullptr;
    if (!target)
      throw BadQuery{"unknown query parameter '" + std::string(key) + "' (this endpoint takes ranks and replicas)",
                     std::string(key)};
    int v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    const int least = target == &ranks ? 1 : 0;
    if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || v < least || v > 4096)
      throw BadQuery{std::string(key) + " must be a whole number from " + std::to_string(least) + " to 4096 (got '" +
                         std::string(value) + "')",
                     std::string(key)};
    *target = v;
  }
}

}  // namespace

void answer_expert_placement(Exchange& ex, const HttpHeaders& cors, Scheduler& scheduler, const ServerOptions& opts) {
  const HttpRequest& q = ex.request();
  if (q.method != "GET" && q.method != "HEAD") {
    HttpHeaders h = cors;
    h.emplace_back("Allow", "GET, HEAD, OPTIONS");
    return answer(ex, 405, json_text(error_body(q.method + " is not served on " + q.path + " (GET, HEAD, OPTIONS are)",
                                                "invalid_request_error")),
                  h);
  }
  if (const auto refusal = admin_refusal(q, opts, "the operator's endpoints (expert placement, adapter admin)"))
    return answer(ex, 403, json_text(error_body(*refusal, "invalid_request_error", "", "admin_disabled")), cors);
  const model::ModelConfig& c = scheduler.model().config();
  if (!c.is_moe())
    return answer(ex, 404, json_text(error_body("the served model has no routed experts", "invalid_request_error", "",
                                                "no_experts")),
                  cors);
  int ranks = 1, replicas = 0;
  try {
    const size_t mark = q.target.find('?');
    if (mark != std::string::npos) parse_query(std::string_view(q.target).substr(mark + 1), ranks, replicas);
  } catch (const BadQuery& b) {
    return answer(ex, 400, json_text(error_body(b.message, "invalid_request_error", b.param)), cors);
  }
  model::PlacementFile f = model::measured_placement(c, scheduler.expert_rows());
  f.model = opts.model_name;
  f.source = "served requests";
  model::place(f, ranks, replicas);
  answer(ex, 200, model::placement_json(f), cors);
}

}  // namespace frugal::server
