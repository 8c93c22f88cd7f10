#include "results/failure.h"

#include <fmt/format.h>

#include <stdexcept>

namespace mammosweep::results {

namespace {
constexpr FailureKind kAll[] = {FailureKind::exception, FailureKind::diverged, FailureKind::oom,
                                FailureKind::bad_image, FailureKind::interrupted,
                                FailureKind::disk_full};
}

const char* to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::exception: return "exception";
    case FailureKind::diverged: return "diverged";
    case FailureKind::oom: return "oom";
    case FailureKind::bad_image: return "bad_image";
    case FailureKind::interrupted: return "interrupted";
    case FailureKind::disk_full: return "disk_full";
  }
  return "unknown";
}

FailureKind failure_kind_from_string(const std::string& name) {
  std::string known;
  for (FailureKind k : kAll) {
    if (name == to_string(k)) return k;
    known += fmt::format("{}{}", known.empty() ? "" : ", ", to_string(k));
  }
  throw std::invalid_argument(
      fmt::format("unknown failure kind '{}' (expected one of: {})", name, known));
}

}  // namespace mammosweep::results
