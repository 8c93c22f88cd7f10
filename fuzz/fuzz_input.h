#pragma once
// What the fuzz targets share: a per-process scratch folder for parsers that read files,
// and the check that a parser's error names its input ("bad input gets a clear error").
// POSIX only (the worker targets link LibTorch, which breaks std::filesystem::remove_all).
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <set>
#include <string>

namespace mammosweep::fuzz {

namespace detail {
struct Scratch {
  std::string dir;
  std::set<std::string> files;
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/mammosweep-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    dir = pattern;
  }
  ~Scratch() {
    for (const auto& f : files) ::unlink(f.c_str());
    ::rmdir(dir.c_str());
  }
};
inline Scratch& scratch() {
  static Scratch s;
  return s;
}
}  // namespace detail

/// Writes `size` bytes to <scratch folder>/<name> (replacing it) and returns the path.
inline std::string write_scratch(const std::string& name, const void* data, std::size_t size) {
  auto& s = detail::scratch();
  const std::string path = s.dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.flush()) {
    std::perror(path.c_str());
    std::abort();
  }
  s.files.insert(path);
  return path;
}

/// A finding: the parser's error does not name its input.
inline void expect_names(const std::exception& e, const std::string& name) {
  if (std::string(e.what()).find(name) == std::string::npos) {
    std::fprintf(stderr, "error does not name '%s': %s\n", name.c_str(), e.what());
    std::abort();
  }
}

}  // namespace mammosweep::fuzz
