#pragma once
// POSIX file helpers: the one place for mkdir -p, atomic writes, directory listing and
// whole-file reads.
//
// Why not std::filesystem: libtorch.so (the 2.11 wheel) exports its own copies of
// std::filesystem's free functions, and some of them crash (remove_all calls a null pointer)
// in any binary that links LibTorch. Code that may share a binary with LibTorch uses these.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mammosweep::io {

/// A failed file operation: "<what> <path>: <strerror>". code() is the errno (ENOSPC: disk
/// full), so callers can tell a full disk from a bad path.
class IoError : public std::runtime_error {
 public:
  IoError(const std::string& what, const std::string& path, int code);
  int code() const { return code_; }

 private:
  int code_;
};

/// mkdir -p. Throws IoError naming the first component it cannot create.
void make_dirs(const std::string& path);
/// Names (not paths) of the entries of `dir`, sorted; empty when it does not exist.
std::vector<std::string> list_dir(const std::string& dir);
/// The whole file; throws IoError naming the path when it cannot be read.
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
bool is_regular_file(const std::string& path);
/// rm -rf; missing paths are fine.
void remove_tree(const std::string& path);

/// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string parent_dir(const std::string& path);
/// "a/b/c.png" -> "c.png".
std::string file_name(const std::string& path);
/// dir + "/" + name (no doubled slash; an absolute `name` is returned as is).
std::string join_path(const std::string& dir, const std::string& name);
/// `path` made absolute against the working directory, with "." and ".." folded.
std::string absolute_path(const std::string& path);
std::string current_dir();
/// The target of a symbolic link ("/proc/self/exe": this executable).
std::string read_link(const std::string& path);

/// Best-effort fsync of a folder (makes a rename in it durable; some file systems refuse).
void fsync_dir(const std::string& dir);

/// A file that appears at `target` complete or not at all: written to a temporary file
/// next to it, then fsync, rename, fsync of the folder on commit(). Destroyed without
/// commit() (an exception, a crash), it leaves `target` as it was and removes its temporary.
class AtomicFile {
 public:
  explicit AtomicFile(std::string target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  /// Appends. The whole pages of page-aligned `data` at a page-aligned file offset (an
  /// AlignedBytes buffer written from the start of the file) bypass the page cache (O_DIRECT),
  /// where the file system allows it: no copy into the cache, and no cache evicted for bytes
  /// nobody reads back soon (a checkpoint). The rest, and all of it where O_DIRECT is refused
  /// (tmpfs, some network file systems), is written through the cache. Throws IoError.
  void write(const void* data, std::size_t size);
  /// Writes at `offset` (files built out of order, like the image cache).
  void write_at(const void* data, std::size_t size, std::size_t offset);
  void commit();

  const std::string& temp_path() const { return temp_; }

 private:
  std::size_t write_direct(const char* data, std::size_t size);

  std::string target_;
  std::string temp_;
  int fd_ = -1;
  bool committed_ = false;
};

/// write_file_atomic(path, bytes): AtomicFile in one call.
void write_file_atomic(const std::string& path, std::string_view bytes);
/// Copies the bytes of `from` to `to` (not atomic: for a private copy that is published later).
void copy_file(const std::string& from, const std::string& to);
/// Makes `tmp`, written by someone else (HDF5), durable and renames it onto `path`.
void publish(const std::string& tmp, const std::string& path);

}  // namespace mammosweep::io
