#include "io/crash_note.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace mammosweep::io {
namespace {

constexpr int kFatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr std::size_t kMax = 4096;

// Written by arm/disarm on a normal thread, read by the handler: `armed` is cleared before
// the buffers change and set after, so the handler never sees a half-copied note.
std::atomic<bool> armed{false};
char note_path[kMax];
char note_text[kMax];
std::size_t note_len = 0;
struct sigaction previous[NSIG];
std::atomic<bool> installed{false};

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void on_fatal(int sig) {
  if (armed.exchange(false)) {
    const int saved = errno;
    int fd = ::open(note_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      char line[32] = "signal=";
      std::size_t n = 7;
      char digits[12];
      int d = 0;
      for (int v = sig; v > 0 || d == 0; v /= 10) digits[d++] = static_cast<char>('0' + v % 10);
      while (d > 0) line[n++] = digits[--d];
      line[n++] = '\n';
      write_all(fd, note_text, note_len);
      write_all(fd, line, n);
      ::fsync(fd);
      ::close(fd);
    }
    errno = saved;
  }
  ::sigaction(sig, &previous[sig], nullptr);
  ::raise(sig);  // a fault re-raised here, or at the faulting instruction when we return
}

}  // namespace

void install_crash_note_handler() {
  if (installed.exchange(true)) return;
  struct sigaction sa {};
  sa.sa_handler = on_fatal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;  // a fault inside the handler ends the process
  for (int sig : kFatal) ::sigaction(sig, &sa, &previous[sig]);
}

void arm_crash_note(const std::string& path, const std::string& text) {
  if (path.size() >= kMax - 96 || text.size() >= kMax - 96) {
    throw std::length_error("crash note: path or text longer than 4,000 bytes");
  }
  armed.store(false);
  std::memcpy(note_path, path.c_str(), path.size() + 1);
  std::memcpy(note_text, text.data(), text.size());
  note_len = text.size();
  armed.store(true);
}

void disarm_crash_note() { armed.store(false); }

}  // namespace mammosweep::io
