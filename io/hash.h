#pragma once
// Checksums that detect torn and corrupted files (not cryptographic).
// - FNV-1a (64-bit): the image cache's checksum and key, and version-1 checkpoint files.
// - XXH3 (64-bit, Debian's libxxhash): checkpoint files from version 2 on. FNV-1a reads one
//   byte per multiply (about 0.4 s for a 290 MB checkpoint here); XXH3 runs at memory speed.
#include <cstddef>
#include <cstdint>

namespace mammosweep::io {

/// 64-bit FNV-1a of `n` bytes. `h` chains calls.
std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL);
/// XXH3_64bits of `n` bytes.
std::uint64_t xxh3_64(const void* data, std::size_t n);

}  // namespace mammosweep::io
