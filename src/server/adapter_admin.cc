#include "server/adapter_admin.h"

#include <cmath>

#include "base/error.h"
#include "base/log.h"
#include "server/admin_gate.h"
#include "server/completion_answer.h"
#include "server/openai_response.h"

namespace frugal::server {

namespace {

constexpr std::string_view kCollection = "/lora-adapters";

void answer(Exchange& ex, int status, const json& body, HttpHeaders headers) {
  headers.emplace_back("Content-Type", "application/json");
  ex.respond(status, std::move(headers), json_text(body));
}

// An OpenAI error body; every refusal here is the client's (4xx).
struct Refusal {
  int status;
  std::string message, code, param;
};

json adapter_object(const ServedAdapter& a) {
  json j = {{"id", a.name}, {"object", "lora_adapter"}};
  j.update(adapter_fields(a));
  return j;
}

json add_adapter(const std::string& body, AdapterRegistry& adapters, const ServerOptions& opts) {
  const json req = json::parse(body, nullptr, false);
  if (!req.is_object()) throw Refusal{400, "the body must be a JSON object {\"name\", \"path\", \"scale\"?}", "", ""};
  for (const auto& [key, _] : req.items())
    if (key != "name" && key != "path" && key != "scale")
      throw Refusal{400, "unknown field '" + key + "' (an adapter takes \"name\", \"path\" and \"scale\")", "", key};
  auto text = [&](const char* key) {
    if (!req.contains(key) || !req[key].is_string() || req[key].get<std::string>().empty())
      throw Refusal{400, std::string("\"") + key + "\" must be a non-empty string", "", key};
    return req[key].get<std::string>();
  };
  ServedAdapter a{text("name"), text("path"), nullptr};
  float scale = opts.adapter_scale;
  if (req.contains("scale")) {
    if (!req["scale"].is_number() || !std::isfinite(req["scale"].get<double>()))
      throw Refusal{400, "\"scale\" must be a finite number", "", "scale"};
    scale = req["scale"].get<float>();
  }
  if (!valid_adapter_name(a.name))
    throw Refusal{400, "the name '" + a.name + "' must be 1 to 128 letters, digits, '.', '_', '-' or ':'", "", "name"};
  auto taken = [&] {
    return Refusal{409, "the name '" + a.name + "' is already served; remove it first (DELETE /lora-adapters/" + a.name + ")",
                   "adapter_exists", "name"};
  };
  if (a.name == opts.model_name)
    throw Refusal{409, "the base model is served as '" + a.name + "'; give the adapter another name", "adapter_exists", "name"};
  if (adapters.find(a.name).lora) throw taken();
  if (!opts.load_adapter) throw Refusal{403, "this server cannot load adapters", "admin_disabled", ""};
  try {
    a.lora = opts.load_adapter(a.path, scale);
  } catch (const Error& e) {
    // The file is missing, not an adapter, or made for another base.
    throw Refusal{400, e.what(), "invalid_adapter", "path"};
  }
  json out = adapter_object(a);
  if (!adapters.add(a)) throw taken();  // another request took the name while this one loaded
  log_info("serve: adapter ", a.name, " added: ", a.path, " (", a.lora->targets().size(), " matrices, rank ",
           a.lora->rank(), ", scale ", a.lora->scale(), ")");
  return out;
}

json remove_adapter(const std::string& name, AdapterRegistry& adapters, const ServerOptions& opts) {
  if (name == opts.model_name)
    throw Refusal{400, "'" + name + "' is the base model, not an adapter; it cannot be removed", "", ""};
  if (!adapters.remove(name)) throw Refusal{404, "no adapter is served as '" + name + "'", "adapter_not_found", ""};
  log_info("serve: adapter ", name, " removed (requests using it finish with it)");
  return {{"id", name}, {"object", "lora_adapter"}, {"deleted", true}};
}

}  // namespace

bool is_adapter_admin_path(const std::string& path) {
  return path == kCollection || (path.size() > kCollection.size() + 1 && path.rfind(kCollection, 0) == 0 &&
                                 path[kCollection.size()] == '/');
}

json adapter_fields(const ServedAdapter& a) {
  return {{"file", a.path}, {"rank", a.lora->rank()}, {"scale", a.lora->scale()}, {"matrices", a.lora->targets().size()}};
}

void answer_adapter_admin(Exchange& ex, const HttpHeaders& cors, AdapterRegistry& adapters, const ServerOptions& opts) {
  const HttpRequest& q = ex.request();
  try {
    if (const auto refusal = admin_refusal(q, opts, "the adapter admin endpoints"))
      throw Refusal{403, *refusal, "admin_disabled", ""};
    const bool collection = q.path == kCollection;
    const std::string name = collection ? "" : q.path.substr(kCollection.size() + 1);
    const bool read = q.method == "GET" || q.method == "HEAD";
    if (collection && read) {
      json list = json::array();
      for (const ServedAdapter& a : adapters.list()) list.push_back(adapter_object(a));
      return answer(ex, 200, {{"object", "list"}, {"data", list}}, cors);
    }
    if (collection && q.method == "POST") return answer(ex, 200, add_adapter(q.body, adapters, opts), cors);
    if (!collection && read) {
      const ServedAdapter a = adapters.find(name);
      if (!a.lora) throw Refusal{404, "no adapter is served as '" + name + "'", "adapter_not_found", ""};
      return answer(ex, 200, adapter_object(a), cors);
    }
    if (!collection && q.method == "DELETE") return answer(ex, 200, remove_adapter(name, adapters, opts), cors);
    HttpHeaders h = cors;
    h.emplace_back("Allow", collection ? "GET, HEAD, POST, OPTIONS" : "GET, HEAD, DELETE, OPTIONS");
    answer(ex, 405, error_body(q.method + " is not served on " + q.path + " (" + h.back().second + " are)",
                               "invalid_request_error"), h);
  } catch (const Refusal& r) {
    answer(ex, r.status, error_body(r.message, "invalid_request_error", r.param, r.code), cors);
  } catch (const std::exception& e) {
    log_warn("serve: an adapter admin request failed: ", e.what());
    answer(ex, 500, error_body(e.what(), "server_error"), cors);
  }
}

}  // namespace frugal::server
