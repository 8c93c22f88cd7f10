#include "io/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "io/aligned_bytes.h"

namespace mammosweep::io {

IoError::IoError(const std::string& what, const std::string& path, int code)
    : std::runtime_error(what + " " + path + ": " + std::strerror(code)), code_(code) {}

namespace {
[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw IoError(what, path, errno);
}

bool stat_mode(const std::string& path, mode_t& mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  mode = st.st_mode;
  return true;
}
}  // namespace

void make_dirs(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create folder", part);
  }
  if (!is_directory(path)) throw IoError("cannot create folder", path, ENOTDIR);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool file_exists(const std::string& path) {
  mode_t mode = 0;
  return stat_mode(path, mode);
}

bool is_directory(const std::string& path) {
  mode_t mode = 0;
  return stat_mode(path, mode) && S_ISDIR(mode);
}

bool is_regular_file(const std::string& path) {
  mode_t mode = 0;
  return stat_mode(path, mode) && S_ISREG(mode);
}

void remove_tree(const std::string& path) {
  ::nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string file_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || (!name.empty() && name.front() == '/')) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string current_dir() {
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) fail("cannot read the working folder", ".");
  return buf;
}

std::string absolute_path(const std::string& path) {
  const std::string full = !path.empty() && path.front() == '/' ? path : join_path(current_dir(), path);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= full.size()) {
    std::size_t end = full.find('/', start);
    if (end == std::string::npos) end = full.size();
    const std::string part = full.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) fail("cannot read the link", path);
  return std::string(buf, static_cast<std::size_t>(n));
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// ---- AtomicFile -------------------------------------------------------------------------

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  std::string pattern = target_ + ".tmp.XXXXXX";
  fd_ = ::mkstemp(pattern.data());
  if (fd_ < 0) fail("cannot create a temporary file next to", target_);
  temp_ = pattern;
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  const std::size_t direct = write_direct(p, size);
  p += direct;
  size -= direct;
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", temp_);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Returns how many leading bytes it wrote with O_DIRECT: a multiple of the page size, 0 when
// the memory, the offset or the file system does not allow it.
std::size_t AtomicFile::write_direct(const char* data, std::size_t size) {
  constexpr std::size_t page = AlignedBytes::kPageBytes;
  const std::size_t pages = size / page * page;
  const off_t offset = ::lseek(fd_, 0, SEEK_CUR);
  if (pages == 0 || reinterpret_cast<std::uintptr_t>(data) % page != 0 || offset < 0 ||
      static_cast<std::size_t>(offset) % page != 0) {
    return 0;
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_DIRECT) != 0) return 0;  // not on this file system
  std::size_t done = 0;
  while (done < pages) {
    const ssize_t n = ::write(fd_, data + done, pages - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && done == 0) break;  // refused after all: write it buffered
    if (n < 0) {
      const int err = errno;
      ::fcntl(fd_, F_SETFL, flags);
      errno = err;
      fail("cannot write", temp_);
    }
    done += static_cast<std::size_t>(n);
    if (done % page != 0) break;  // a short write off a page boundary: the rest goes buffered
  }
  ::fcntl(fd_, F_SETFL, flags);
  return done;
}

void AtomicFile::write_at(const void* data, std::size_t size, std::size_t offset) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", temp_);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail("cannot flush", temp_);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail("cannot close", temp_);
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("cannot rename " + temp_ + " onto", target_);
  committed_ = true;
  fsync_dir(parent_dir(target_));
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

void copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) fail("cannot read", from);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot create", to);
  out << in.rdbuf();
  out.flush();
  if (!out) fail("cannot write", to);
}

void publish(const std::string& tmp, const std::string& path) {
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", tmp);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw IoError("cannot flush", tmp, err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp + " onto", path);
  fsync_dir(parent_dir(path));
}

}  // namespace mammosweep::io
