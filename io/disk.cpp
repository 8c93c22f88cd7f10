#include "io/disk.h"

#include <fmt/format.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "io/files.h"

namespace mammosweep::io {

namespace {
thread_local std::uint64_t g_tree_sum = 0;  // nftw's callback takes no user pointer
}

std::uint64_t tree_bytes(const std::string& path) {
  g_tree_sum = 0;
  ::nftw(
      path.c_str(),
      [](const char*, const struct stat* st, int type, struct FTW*) {
        if (type == FTW_F && S_ISREG(st->st_mode)) g_tree_sum += static_cast<std::uint64_t>(st->st_size);
        return 0;
      },
      16, FTW_PHYS);
  return g_tree_sum;
}

FsSpace fs_space(const std::string& path) {
  std::string p = path.empty() ? "." : path;
  while (!file_exists(p) && p != "/" && p != ".") p = parent_dir(p);
  struct statvfs s {};
  if (::statvfs(p.c_str(), &s) != 0) throw IoError("cannot stat the file system of", p, errno);
  return {static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize,
          static_cast<std::uint64_t>(s.f_blocks) * s.f_frsize};
}

std::string format_bytes(std::uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1e9) return fmt::format("{:.1f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.0f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.0f} kB", b / 1e3);
  return fmt::format("{} B", bytes);
}

}  // namespace mammosweep::io
