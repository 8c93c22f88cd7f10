// Both sides of the DICOM helper (dicom_helper.h). One message each way, over a Unix stream
// socket, native byte order (the helper runs on the same machine):
//   request:  u64 name length, u64 data length, name, data
//   response: u8 0, i32 width, height, channels, bit_depth, u64 samples, u16 samples...
//          or u8 1, u64 length, the ImageError's message
// A helper whose socket reads end early has died: waitpid says how, and what it wrote to its
// stderr (a pipe read only then) says why.
#include "worker/dicom_helper.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "io/files.h"
#include "worker/dicom.h"

extern char** environ;

namespace mammosweep::worker {
namespace {

bool write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);  // a dead peer: EPIPE, not SIGPIPE
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t k = ::read(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

template <typename T>
bool write_value(int fd, T v) {
  return write_all(fd, &v, sizeof v);
}
template <typename T>
bool read_value(int fd, T& v) {
  return read_all(fd, &v, sizeof v);
}

// The line of a dead helper's stderr that says why: glibc's "Assertion ... failed", a
// sanitizer's "ERROR: ...", else the last line.
std::string last_words(const std::string& text) {
  std::string best, last;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    if (!line.empty()) last = line;
    if (best.empty() && (line.find("Assertion") != std::string::npos ||
                         line.find("ERROR: ") != std::string::npos))
      best = line;
    begin = end + 1;
  }
  std::string out = best.empty() ? last : best;
  if (out.size() > 400) out = out.substr(0, 400) + "...";
  return out;
}

std::string signal_text(int sig) {
  const char* name = sig == SIGABRT ? "SIGABRT, an assertion or abort()"
                     : sig == SIGSEGV ? "SIGSEGV, an invalid memory access"
                     : sig == SIGBUS  ? "SIGBUS"
                     : sig == SIGFPE  ? "SIGFPE, an arithmetic fault"
                     : sig == SIGKILL ? "SIGKILL, killed, perhaps for lack of memory"
                                      : ::strsignal(sig);
  return "signal " + std::to_string(sig) + ", " + name;
}

class Helper {
 public:
  static Helper start() {
    const std::string path = dicom_helper_path();
    int sv[2], err[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      throw DicomHelperError("cannot start the DICOM decoder: socketpair: " +
                             std::string(std::strerror(errno)));
    if (::pipe2(err, O_CLOEXEC) != 0) {
      const int e = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      throw DicomHelperError("cannot start the DICOM decoder: pipe: " + std::string(std::strerror(e)));
    }
    // A helper that writes more to stderr than the pipe holds loses the rest, never blocks.
    ::fcntl(err[1], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sv[1], 3);  // dup2 clears close-on-exec
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    char* argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>("--serve-fd"),
                    const_cast<char*>("3"), nullptr};
    Helper h;
    const int rc = ::posix_spawn(&h.pid_, path.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(sv[1]);
    ::close(err[1]);
    h.socket_ = sv[0];
    h.stderr_ = err[0];
    if (rc != 0) {
      h.pid_ = -1;
      throw DicomHelperError("cannot start the DICOM decoder " + path + ": " + std::strerror(rc) +
                             " (set MAMMOSWEEP_DICOM_HELPER to its path)");
    }
    return h;
  }

  Helper() = default;
  Helper(Helper&& o) noexcept { *this = std::move(o); }
  Helper& operator=(Helper&& o) noexcept {
    std::swap(pid_, o.pid_);
    std::swap(socket_, o.socket_);
    std::swap(stderr_, o.stderr_);
    return *this;
  }
  Helper(const Helper&) = delete;
  Helper& operator=(const Helper&) = delete;
  ~Helper() { stop(); }

  /// False when the helper has ended (reaped here): killed while idle, say by the kernel's
  /// OOM killer, it must not be charged to the next file.
  bool alive() {
    if (pid_ <= 0 || ::waitpid(pid_, nullptr, WNOHANG) == 0) return pid_ > 0;
    pid_ = -1;
    return false;
  }

  /// Decodes one file. Returns false when the helper died or broke off; `error` then says how.
  bool decode(const std::uint8_t* data, std::size_t size, const std::string& name, Image& image,
              std::string& error, bool& file_error) {
    if (!write_value<std::uint64_t>(socket_, name.size()) ||
        !write_value<std::uint64_t>(socket_, size) || !write_all(socket_, name.data(), name.size()) ||
        !write_all(socket_, data, size))
      return died(error);
    std::uint8_t kind = 0;
    if (!read_value(socket_, kind)) return died(error);
    if (kind == 1) {
      std::uint64_t length = 0;
      if (!read_value(socket_, length) || length > (1u << 20)) return died(error);
      error.resize(length);
      if (!read_all(socket_, error.data(), length)) return died(error);
      file_error = true;
      return true;
    }
    std::int32_t head[4];
    std::uint64_t samples = 0;
    if (kind != 0 || !read_all(socket_, head, sizeof head) || !read_value(socket_, samples))
      return died(error);
    const auto [width, height, channels, bit_depth] = head;
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3) ||
        (bit_depth != 8 && bit_depth != 16) ||
        samples != std::uint64_t(width) * std::uint64_t(height) * std::uint64_t(channels) ||
        samples > 3 * kMaxImagePixels)
      throw DicomHelperError(dicom_helper_path() + " answered an invalid image for " + name +
                             " (another version of the helper?)");
    image.width = width;
    image.height = height;
    image.channels = channels;
    image.bit_depth = bit_depth;
    image.pixels.resize(samples);
    if (!read_all(socket_, image.pixels.data(), samples * sizeof(std::uint16_t)))
      return died(error);
    return true;
  }

 private:
  // Ends the helper (it may be alive and confused) and says how it ended.
  bool died(std::string& error) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(stderr_, buf, sizeof buf)) > 0 && text.size() < (1u << 20);)
      text.append(buf, static_cast<std::size_t>(n));
    const std::string why = last_words(text);
    error = WIFSIGNALED(status) ? signal_text(WTERMSIG(status))
                                : "exit status " + std::to_string(WEXITSTATUS(status));
    if (!why.empty()) error += ": " + why;
    return false;
  }
  void stop() {
    if (socket_ >= 0) ::close(socket_);  // the helper reads end-of-file and exits
    if (stderr_ >= 0) ::close(stderr_);
    if (pid_ > 0) {
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    socket_ = stderr_ = pid_ = -1;
  }

  pid_t pid_ = -1;
  int socket_ = -1, stderr_ = -1;
};

class Pool {
 public:
  Helper take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (!idle_.empty()) {
        Helper h = std::move(idle_.back());
        idle_.pop_back();
        if (h.alive()) return h;
      }
    }
    return Helper::start();
  }
  void give_back(Helper h) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(h));
  }
  void clear() {
    std::vector<Helper> idle;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      idle.swap(idle_);
    }
  }

 private:
  std::mutex mutex_;
  std::vector<Helper> idle_;
};

Pool& pool() {
  static Pool p;
  return p;
}

// Keeps a runaway decode from taking the node's memory. The largest image decode_dicom_memory
// accepts (kMaxImagePixels RGB samples of 16 bits) needs about 2.4 GB here (the file, GDCM's
// buffer, ours, the answer); fuzzing found 1 kB files for which GDCM allocates about 4 GB
// before it fails or decodes a 16x12 image. 4 GiB of address space refuses those (an
// ImageError: out of memory) and accepts every real one.
// Not under AddressSanitizer, which reserves terabytes of address space for its shadow.
#if defined(__SANITIZE_ADDRESS__)
#define MAMMOSWEEP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAMMOSWEEP_ASAN 1
#endif
#endif
constexpr std::uint64_t kAddressSpace = std::uint64_t{4} << 30;
void limit_memory() {
#ifndef MAMMOSWEEP_ASAN
  const rlimit limit{kAddressSpace, kAddressSpace};
  ::setrlimit(RLIMIT_AS, &limit);
#endif
}

bool answer(int fd, const Image& image) {
  const std::int32_t head[4] = {image.width, image.height, image.channels, image.bit_depth};
  return write_value<std::uint8_t>(fd, 0) && write_all(fd, head, sizeof head) &&
         write_value<std::uint64_t>(fd, image.pixels.size()) &&
         write_all(fd, image.pixels.data(), image.pixels.size() * sizeof(std::uint16_t));
}

bool answer(int fd, const std::string& error) {
  return write_value<std::uint8_t>(fd, 1) && write_value<std::uint64_t>(fd, error.size()) &&
         write_all(fd, error.data(), error.size());
}

}  // namespace

std::string dicom_helper_path() {
  if (const char* env = std::getenv("MAMMOSWEEP_DICOM_HELPER"); env != nullptr && *env != '\0')
    return env;
  try {
    const std::string sibling =
        io::join_path(io::parent_dir(io::read_link("/proc/self/exe")), "mammosweep-dicom");
    if (io::is_regular_file(sibling)) return sibling;
  } catch (const std::exception&) {
  }
  return MAMMOSWEEP_DICOM_HELPER_BUILT;
}

void stop_idle_dicom_helpers() { pool().clear(); }

Image decode_dicom_isolated(const std::uint8_t* data, std::size_t size, const std::string& name) {
  Helper helper = pool().take();
  Image image;
  std::string error;
  bool file_error = false;
  if (!helper.decode(data, size, name, image, error, file_error))
    throw ImageError(name + ": GDCM crashed the DICOM decoder process (" + error +
                     "): a corrupt file, or one GDCM mishandles; the next file gets a new decoder");
  pool().give_back(std::move(helper));
  if (file_error) throw ImageError(error);
  return image;
}

int serve_dicom_requests(int fd) {
  limit_memory();
  for (;;) {
    std::uint64_t name_size = 0, size = 0;
    if (!read_value(fd, name_size)) return 0;  // the socket closed: done
    if (!read_value(fd, size) || name_size > 65536) return 1;
    std::string name(name_size, '\0');
    std::vector<std::uint8_t> data;
    try {
      data.resize(size);
    } catch (const std::bad_alloc&) {
      return 1;
    }
    if (!read_all(fd, name.data(), name_size) || !read_all(fd, data.data(), size)) return 1;
    bool sent = false;
    try {
      const Image image = decode_dicom_memory(data.data(), data.size(), name);
      data = {};
      sent = answer(fd, image);
    } catch (const ImageError& e) {
      sent = answer(fd, std::string(e.what()));
    } catch (const std::bad_alloc&) {
      sent = answer(fd, name + ": out of memory decoding this DICOM file (the decoder process "
                               "may use 4 GiB)");
    } catch (const std::exception& e) {
      sent = answer(fd, name + ": cannot decode this DICOM file: " + e.what());
    }
    if (!sent) return 1;
  }
}

}  // namespace mammosweep::worker
