// What frugal train and frugal finetune share for their progress lines and
// metrics logs (JSON lines that frugal plot reads).
#pragma once
#include <cstdint>
#include <string>

namespace frugal::cli {

// "1m05s", "2h03m"; "?" when unknown.
std::string eta_text(double seconds);

// After a resume the metrics log keeps only the lines up to the checkpoint's
// step (the steps after it are run again and logged again), so no step is
// logged twice. A line cut short by a kill is dropped too. No log: nothing.
// Returns the last kept record's "seconds" (training time so far), so that a
// resumed run's clock goes on from there; 0 when no kept record has one.
double truncate_log_to_step(const std::string& path, int64_t step);

}  // namespace frugal::cli
