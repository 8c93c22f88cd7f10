#include "io/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "io/files.h"

namespace mammosweep::io {

FileLock::FileLock(const std::string& lock_path, Mode mode)
    : fd_(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
  if (fd_ < 0) throw IoError("cannot create the lock file", lock_path, errno);
  const int op = mode == Mode::wait ? LOCK_EX : LOCK_EX | LOCK_NB;
  while (::flock(fd_, op) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    release();
    if (err == EWOULDBLOCK && mode == Mode::try_once) return;
    throw IoError("cannot lock", lock_path, err);
  }
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void FileLock::release() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor drops the flock
  fd_ = -1;
}

}  // namespace mammosweep::io
