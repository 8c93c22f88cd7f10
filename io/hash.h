#pragma once
// 64-bit FNV-1a: the checksum of checkpoint files and the image cache, and the key of cached
// data. Not cryptographic; it detects torn and corrupted files.
#include <cstddef>
#include <cstdint>

namespace mammosweep::io {

/// 64-bit FNV-1a of `n` bytes. `h` chains calls.
std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace mammosweep::io
