// GET /expert-placement[?ranks=N&replicas=R]: the rows each routed expert
// of the served model has received since the server started, as a
// placement file (frugal placement's format, model/expert_placement.h)
// placed on N ranks (default 1) with R extra expert copies a rank (default
// 0). Saved, it is what `--expert-placement` takes under `--expert-parallel`
// (placed again there at another rank count) and what `frugal inspect
// --placement` shows: a placement balanced by the load of real traffic
// rather than of a calibration text. Behind server/admin_gate.h. Under
// --expert-parallel the counts are rank 0's: every row with the ranks in
// lockstep or --attention-first-rank, rank 0's own sequences' rows under
// --attention-dp.
#pragma once
#include <string>

#include "server/exchange.h"
#include "server/http_server.h"
#include "server/scheduler.h"

namespace frugal::server {

inline constexpr const char* kPlacementPath = "/expert-placement";

// Answers one request to kPlacementPath.
void answer_expert_placement(Exchange& ex, const HttpHeaders& cors, Scheduler& scheduler, const ServerOptions& opts);

}  // namespace frugal::server
