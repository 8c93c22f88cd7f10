#include "io/hash.h"

#include <xxhash.h>

namespace mammosweep::io {

std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t xxh3_64(const void* data, std::size_t n) { return XXH3_64bits(data, n); }

}  // namespace mammosweep::io
