// AlignedBytes, and AtomicFile writing its whole pages around the page cache. Whether a
// file's pages are in the page cache is asked of the kernel (mmap + mincore), not of the code
// under test; the bytes are read back with plain POSIX reads.
#include "io/aligned_bytes.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/files.h"
#include "temp_dir.h"

namespace mammosweep::io {
namespace {

constexpr std::size_t kPage = AlignedBytes::kPageBytes;

std::string posix_read(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// For each page of the file: is it in the page cache?
std::vector<bool> cached_pages(const std::string& path, std::size_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return {};
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return {};
  std::vector<unsigned char> vec((size + kPage - 1) / kPage);
  const bool ok = ::mincore(map, size, vec.data()) == 0;
  ::munmap(map, size);
  std::vector<bool> out;
  if (ok) for (unsigned char v : vec) out.push_back((v & 1) != 0);
  return out;
}

// Whether O_DIRECT writes in `dir` leave the page cache alone, so the test can see them: the
// file system must accept O_DIRECT and keep file data outside memory (tmpfs accepts O_DIRECT
// on recent kernels, but its files are page cache).
bool direct_io_observable_in(const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0 || fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
    return false;
  }
  const std::string probe = dir + "/probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0644);
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  return fd >= 0;
}

AlignedBytes pattern(std::size_t n) {
  AlignedBytes b;
  b.resize(n);
  for (std::size_t i = 0; i < n; ++i) b.data()[i] = static_cast<char>((i * 131 + 7) % 251);
  return b;
}

TEST(AlignedBytes, DataIsPageAlignedAndResizeKeepsTheBytesAndTheCapacity) {
  AlignedBytes b = pattern(100);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % kPage, 0u);
  const std::string first(b.data(), 100);
  b.resize(3 * kPage + 5);  // grows: a new block, the old bytes copied
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % kPage, 0u);
  EXPECT_EQ(std::string(b.data(), 100), first);
  const char* grown = b.data();
  b.resize(10);
  b.resize(3 * kPage + 5);  // within the capacity: the same block
  EXPECT_EQ(b.data(), grown);
  EXPECT_EQ(b.size(), 3 * kPage + 5);
  EXPECT_EQ(b.view().size(), b.size());
}

TEST(AtomicFileDirect, WholeAlignedPagesBypassThePageCacheAndTheFileIsExact) {
  test::TempDir tmp;
  const std::size_t n = 64 * kPage + 100;  // 64 whole pages and a tail
  const AlignedBytes bytes = pattern(n);
  const std::string aligned = tmp.file("aligned.bin"), unaligned = tmp.file("unaligned.bin");
  {
    AtomicFile f(aligned);
    f.write(bytes.data(), bytes.size());
    f.commit();
  }
  {
    const std::string copy(bytes.view());  // the same bytes, not page-aligned in memory
    AtomicFile f(unaligned);
    f.write(copy.data(), copy.size());
    f.commit();
  }
  if (direct_io_observable_in(tmp.path())) {
    const std::vector<bool> direct = cached_pages(aligned, n), buffered = cached_pages(unaligned, n);
    ASSERT_EQ(direct.size(), 65u);
    ASSERT_EQ(buffered.size(), 65u);
    int direct_cached = 0, buffered_cached = 0;
    for (std::size_t i = 0; i < 64; ++i) {
      direct_cached += direct[i];
      buffered_cached += buffered[i];
    }
    EXPECT_EQ(direct_cached, 0) << "whole pages written around the cache";
    EXPECT_EQ(buffered_cached, 64) << "the same bytes from unaligned memory go through it";
  } else {
    std::cout << tmp.path() << ": O_DIRECT refused, or a file system in memory: only the bytes "
                               "are checked\n";
  }
  // Read back after the cache check (reading fills the cache).
  EXPECT_EQ(posix_read(aligned), std::string(bytes.view()));
  EXPECT_EQ(posix_read(unaligned), std::string(bytes.view()));
}

TEST(AtomicFileDirect, AnUnalignedOffsetWritesThroughTheCache) {
  test::TempDir tmp;
  const AlignedBytes bytes = pattern(8 * kPage);
  const std::string path = tmp.file("offset.bin");
  AtomicFile f(path);
  f.write("hdr", 3);  // the next write starts 3 bytes into the file
  f.write(bytes.data(), bytes.size());
  f.commit();
  const std::vector<bool> cached = cached_pages(path, 3 + bytes.size());
  ASSERT_EQ(cached.size(), 9u);
  for (bool c : cached) EXPECT_TRUE(c);
  EXPECT_EQ(posix_read(path), "hdr" + std::string(bytes.view()));
}

}  // namespace
}  // namespace mammosweep::io
