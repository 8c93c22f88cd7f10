// Disk use helpers (io/disk.h): byte counts against files of known sizes, free space of the
// nearest existing folder, and the byte formatting the status lines use.
#include "io/disk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

#include "io/files.h"
#include "temp_dir.h"

namespace mammosweep::io {
namespace {

void write_bytes(const std::string& path, std::size_t n) {
  write_file_atomic(path, std::string(n, 'x'));
}

TEST(Disk, TreeBytesSumsRegularFilesWithoutFollowingLinks) {
  test::TempDir dir("disk_test");
  make_dirs(dir.file("a/b"));
  write_bytes(dir.file("one"), 1000);
  write_bytes(dir.file("a/two"), 20);
  write_bytes(dir.file("a/b/three"), 3);
  ASSERT_EQ(::symlink(dir.file("one").c_str(), dir.file("a/link").c_str()), 0);
  EXPECT_EQ(tree_bytes(dir.path()), 1023u);
  EXPECT_EQ(tree_bytes(dir.file("a")), 23u);
  EXPECT_EQ(tree_bytes(dir.file("one")), 1000u);
  EXPECT_EQ(tree_bytes(dir.file("missing")), 0u);
}

TEST(Disk, FreeSpaceOfAMissingPathIsItsNearestExistingParents) {
  test::TempDir dir("disk_test");
  const FsSpace here = fs_space(dir.path());
  EXPECT_GT(here.total, 0u);
  EXPECT_LE(here.available, here.total);
  const FsSpace below = fs_space(dir.file("not/yet/made"));
  EXPECT_EQ(below.total, here.total);
}

TEST(Disk, FullDiskErrnos) {
  EXPECT_TRUE(is_disk_full(ENOSPC));
  EXPECT_TRUE(is_disk_full(EDQUOT));
  EXPECT_FALSE(is_disk_full(EACCES));
}

TEST(Disk, FormatBytes) {
  EXPECT_EQ(format_bytes(17), "17 B");
  EXPECT_EQ(format_bytes(12'345), "12 kB");
  EXPECT_EQ(format_bytes(288'400'000), "288 MB");
  EXPECT_EQ(format_bytes(1'800'000'000), "1.8 GB");
}

}  // namespace
}  // namespace mammosweep::io
