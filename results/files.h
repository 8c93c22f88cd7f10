#pragma once
// Small POSIX file helpers. They exist because libtorch.so (the 2.11 wheel) exports its own
// copies of std::filesystem's free functions, and some of them crash (remove_all calls a
// null pointer) in any binary that links LibTorch. Code that may share a binary with
// LibTorch uses these instead of std::filesystem.
#include <string>
#include <vector>

namespace mammosweep::results {

/// mkdir -p. Throws std::runtime_error naming the path on failure.
void make_dirs(const std::string& path);
/// Names (not paths) of the entries of `dir`, sorted; empty when it does not exist.
std::vector<std::string> list_dir(const std::string& dir);
/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename,
/// fsync of the folder. Readers see the old file or the new one, never a partial one.
void write_file_atomic(const std::string& path, const std::string& bytes);
/// The whole file; throws std::runtime_error naming the path when it cannot be read.
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
/// rm -rf; missing paths are fine.
void remove_tree(const std::string& path);

}  // namespace mammosweep::results
