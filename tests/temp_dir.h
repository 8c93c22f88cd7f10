#pragma once
// A fresh folder under $TMPDIR (or /tmp), removed with everything in it when the object goes
// out of scope. POSIX calls only (io/files.h): std::filesystem::remove_all crashes in
// binaries that link LibTorch.
#include <stdlib.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "io/files.h"

namespace mammosweep::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "mammosweep_test") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        io::join_path(base != nullptr && *base != '\0' ? base : "/tmp", tag + ".XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { io::remove_tree(path_); }

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  /// Names in the folder, sorted.
  std::vector<std::string> list() const { return io::list_dir(path_); }

 private:
  std::string path_;
};

}  // namespace mammosweep::test
