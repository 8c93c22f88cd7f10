#include "results/records.h"

#include <stdexcept>

namespace mammosweep::results {

const char* to_string(TrialStatus s) {
  switch (s) {
    case TrialStatus::pending: return "pending";
    case TrialStatus::running: return "running";
    case TrialStatus::done: return "done";
    case TrialStatus::failed: return "failed";
    case TrialStatus::stopped_early: return "stopped_early";
  }
  return "unknown";
}

TrialStatus trial_status_from_string(const std::string& s) {
  for (auto st : {TrialStatus::pending, TrialStatus::running, TrialStatus::done,
                  TrialStatus::failed, TrialStatus::stopped_early}) {
    if (s == to_string(st)) return st;
  }
  throw std::invalid_argument("unknown trial status '" + s +
                              "' (expected pending, running, done, failed or stopped_early)");
}

}  // namespace mammosweep::results
