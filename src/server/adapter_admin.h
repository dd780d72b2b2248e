// The adapter admin endpoints: LoRA adapters added to and removed from a
// running server.
//   GET    /lora-adapters         the adapters served, as a list
//   POST   /lora-adapters         {"name", "path", "scale"?}: loads the file
//                                 (checked against the base) and serves it as "name"
//   DELETE /lora-adapters/{name}  stops serving it; requests already using it finish with it
// They read files on the server's disk, so they are for the operator: behind
// server/admin_gate.h.
#pragma once
#include <string>

#include "server/adapter_registry.h"
#include "server/exchange.h"
#include "server/http_server.h"

namespace frugal::server {

// Whether the path is one of the admin endpoints'.
bool is_adapter_admin_path(const std::string& path);

// Answers one admin request (on a worker thread: loading a file takes time).
// No adapter may take the base's name (opts.model_name).
void answer_adapter_admin(Exchange& ex, const HttpHeaders& cors, AdapterRegistry& adapters, const ServerOptions& opts);

// What /v1/models and /lora-adapters tell of an adapter: its file, rank,
// scale and number of adapted matrices.
nlohmann::ordered_json adapter_fields(const ServedAdapter& a);

}  // namespace frugal::server
