// The bottom file layer against the file system itself: every expectation is checked with
// plain POSIX calls (stat, open, readdir), not with the functions under test.
#include "io/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "io/lock.h"
#include "io/time.h"
#include "temp_dir.h"

namespace mammosweep::io {
namespace {

using ::testing::HasSubstr;

bool posix_is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string posix_read(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> posix_names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  if (d) ::closedir(d);
  return out;
}

TEST(Files, MakeDirsCreatesEveryMissingParentAndAcceptsExisting) {
  test::TempDir tmp;
  const std::string deep = tmp.path() + "/a/b/c";
  make_dirs(deep);
  EXPECT_TRUE(posix_is_dir(tmp.path() + "/a") && posix_is_dir(tmp.path() + "/a/b") &&
              posix_is_dir(deep));
  EXPECT_NO_THROW(make_dirs(deep));
  EXPECT_NO_THROW(make_dirs(deep + "/"));
}

TEST(Files, MakeDirsNamesTheComponentThatIsAFile) {
  test::TempDir tmp;
  std::ofstream(tmp.file("f")) << "x";
  try {
    make_dirs(tmp.path() + "/f/sub");
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(tmp.path() + "/f"));
    EXPECT_EQ(e.code(), ENOTDIR);
  }
}

TEST(Files, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
  test::TempDir tmp;
  const std::string p = tmp.file("x.txt");
  write_file_atomic(p, "first");
  write_file_atomic(p, std::string(100000, 'z'));
  EXPECT_EQ(posix_read(p), std::string(100000, 'z'));
  EXPECT_EQ(posix_names(tmp.path()), std::vector<std::string>{"x.txt"});
}

TEST(Files, UncommittedAtomicFileLeavesTargetAsItWas) {
  test::TempDir tmp;
  const std::string p = tmp.file("x.txt");
  write_file_atomic(p, "kept");
  {
    AtomicFile f(p);
    f.write("partial", 7);
    EXPECT_EQ(posix_names(tmp.path()).size(), 2u);  // the target and the temporary
  }
  EXPECT_EQ(posix_read(p), "kept");
  EXPECT_EQ(posix_names(tmp.path()), std::vector<std::string>{"x.txt"});
}

TEST(Files, WriteAtBuildsAFileOutOfOrder) {
  test::TempDir tmp;
  const std::string p = tmp.file("y");
  AtomicFile f(p);
  f.write_at("world", 5, 6);
  f.write_at("hello ", 6, 0);
  f.commit();
  EXPECT_EQ(posix_read(p), "hello world");
}

TEST(Files, AtomicWriteIntoAMissingFolderNamesIt) {
  test::TempDir tmp;
  try {
    write_file_atomic(tmp.path() + "/nope/x", "a");
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(tmp.path() + "/nope/x"));
    EXPECT_EQ(e.code(), ENOENT);
  }
}

TEST(Files, ReadListExistsRemove) {
  test::TempDir tmp;
  std::ofstream(tmp.file("b")) << "bee";
  std::ofstream(tmp.file("a")) << "";
  ::mkdir(tmp.file("d").c_str(), 0755);
  std::ofstream(tmp.file("d/inner")) << "i";
  EXPECT_EQ(read_file(tmp.file("b")), "bee");
  EXPECT_EQ(list_dir(tmp.path()), (std::vector<std::string>{"a", "b", "d"}));
  EXPECT_TRUE(list_dir(tmp.file("missing")).empty());
  EXPECT_TRUE(file_exists(tmp.file("a")));
  EXPECT_TRUE(is_regular_file(tmp.file("a")));
  EXPECT_FALSE(is_regular_file(tmp.file("d")));
  EXPECT_TRUE(is_directory(tmp.file("d")));
  EXPECT_FALSE(file_exists(tmp.file("zz")));
  EXPECT_THROW(read_file(tmp.file("zz")), IoError);
  remove_tree(tmp.file("d"));
  EXPECT_FALSE(posix_is_dir(tmp.file("d")));
  EXPECT_NO_THROW(remove_tree(tmp.file("d")));  // missing is fine
}

TEST(Files, CopyAndPublish) {
  test::TempDir tmp;
  write_file_atomic(tmp.file("src"), "payload");
  copy_file(tmp.file("src"), tmp.file("tmp"));
  publish(tmp.file("tmp"), tmp.file("dst"));
  EXPECT_EQ(posix_read(tmp.file("dst")), "payload");
  EXPECT_EQ(posix_names(tmp.path()).size(), 2u);
}

TEST(Paths, Pieces) {
  EXPECT_EQ(parent_dir("a/b/c"), "a/b");
  EXPECT_EQ(parent_dir("c"), ".");
  EXPECT_EQ(parent_dir("/c"), "/");
  EXPECT_EQ(file_name("a/b/c.png"), "c.png");
  EXPECT_EQ(file_name("c.png"), "c.png");
  EXPECT_EQ(join_path("a", "b"), "a/b");
  EXPECT_EQ(join_path("a/", "b"), "a/b");
  EXPECT_EQ(join_path("", "b"), "b");
  EXPECT_EQ(join_path("a", "/abs"), "/abs");
  EXPECT_EQ(absolute_path("/x/./y/../z"), "/x/z");
  EXPECT_EQ(absolute_path("/.."), "/");
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(absolute_path("q"), std::string(cwd) == "/" ? "/q" : std::string(cwd) + "/q");
  EXPECT_EQ(current_dir(), cwd);
}

TEST(Lock, TryOnceFailsWhileAnotherDescriptorHoldsIt) {
  test::TempDir tmp;
  const std::string p = tmp.file("l.lock");
  FileLock first(p, FileLock::Mode::try_once);
  ASSERT_TRUE(first.held());
  // flock locks belong to the open file description: a second open in this process conflicts
  // like another process would.
  FileLock second(p, FileLock::Mode::try_once);
  EXPECT_FALSE(second.held());
  first.release();
  FileLock third(p, FileLock::Mode::try_once);
  EXPECT_TRUE(third.held());
  FileLock moved = std::move(third);
  EXPECT_TRUE(moved.held());
  EXPECT_FALSE(third.held());  // NOLINT(bugprone-use-after-move): moved-from is empty
}

TEST(Time, IsoUtcOfKnownInstants) {
  EXPECT_EQ(iso_utc(0), "1970-01-01T00:00:00Z");
  // 2026-11-30 00:00:00 UTC = 20787 days after the epoch (computed: 56 years, 14 leap days,
  // plus 333 days into 2026).
  EXPECT_EQ(iso_utc(static_cast<std::time_t>(20787) * 86400 + 3600 + 61), "2026-11-30T01:01:01Z");
  const std::string now = iso_utc_now();
  EXPECT_EQ(now.size(), 20u);
  EXPECT_EQ(now.back(), 'Z');
}

}  // namespace
}  // namespace mammosweep::io
