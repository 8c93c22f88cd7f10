#pragma once
// Disk use: bytes a folder holds and the space left on its file system (status, the
// pre-sweep space check, checkpoint retention). POSIX only (stat, nftw, statvfs).
#include <cerrno>
#include <cstdint>
#include <string>

namespace mammosweep::io {

/// Bytes of the regular files under `path` (a file: its size), without following links;
/// 0 when it does not exist. Apparent sizes (st_size), which is what a quota counts on
/// the file systems we know, and what `du -sb` prints.
std::uint64_t tree_bytes(const std::string& path);

struct FsSpace {
  std::uint64_t available = 0;  // bytes an unprivileged user may still write (statvfs f_bavail)
  std::uint64_t total = 0;
};
/// The file system holding `path` (or its nearest existing parent). Throws IoError.
FsSpace fs_space(const std::string& path);

/// True for the errors a full disk or an exhausted quota gives (ENOSPC, EDQUOT).
inline bool is_disk_full(int code) { return code == ENOSPC || code == EDQUOT; }

/// "1.8 GB", "288 MB", "12 kB", "17 B" (decimal units, like the docs' measurements).
std::string format_bytes(std::uint64_t bytes);

}  // namespace mammosweep::io
