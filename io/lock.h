#pragma once
// An exclusive advisory lock (flock) on a lock file, held for the object's lifetime. The
// kernel drops it when the process dies, so a crashed holder never leaves a stale lock.
#include <string>

namespace mammosweep::io {

class FileLock {
 public:
  enum class Mode {
    wait,      // block until the holder lets go (the image cache's builders take turns)
    try_once,  // give up at once; held() says whether it was taken (a store's one writer)
  };
  FileLock() = default;
  /// Creates `lock_path` if needed. Throws IoError when it cannot be created or locked.
  FileLock(const std::string& lock_path, Mode mode);
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { release(); }

  bool held() const { return fd_ >= 0; }
  void release();

 private:
  int fd_ = -1;
};

}  // namespace mammosweep::io
