#include "io/time.h"

namespace mammosweep::io {

std::string iso_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string iso_utc_now() { return iso_utc(std::time(nullptr)); }

}  // namespace mammosweep::io
