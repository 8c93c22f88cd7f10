#pragma once
// Timestamps as the results store and the status command write them.
#include <ctime>
#include <string>

namespace mammosweep::io {

/// "2026-11-30T02:35:36Z" (UTC, thread-safe).
std::string iso_utc(std::time_t t);
std::string iso_utc_now();

}  // namespace mammosweep::io
