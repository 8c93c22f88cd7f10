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

// One armed note. Written by arm/disarm on a normal thread, read by the handlers: `armed` is
// cleared before the buffers change and set after, so a handler never sees a half-copied
// note, and whoever clears it first (disarm, a handler) is the one that touches the file.
struct Slot {
  std::atomic<bool> armed{false};
  char path[kMax];
  char text[kMax];
  std::size_t len = 0;
};
Slot attempt_note, launch_note;
std::atomic<bool> stood_down{false};
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

// Async-signal-safe. Returns false when the file cannot be opened.
bool write_note(const Slot& s, const char* tail, std::size_t tail_len) {
  int fd = ::open(s.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  write_all(fd, s.text, s.len);
  write_all(fd, tail, tail_len);
  ::fsync(fd);
  ::close(fd);
  return true;
}

void disarm(Slot& s) {
  if (s.armed.exchange(false)) {
    const int saved = errno;
    ::unlink(s.path);
    errno = saved;
  }
}

void arm(Slot& s, const std::string& path, const std::string& text) {
  if (path.size() >= kMax - 96 || text.size() >= kMax - 96) {
    throw std::length_error("crash note: path or text longer than 4,000 bytes");
  }
  disarm(s);
  std::memcpy(s.path, path.c_str(), path.size() + 1);
  std::memcpy(s.text, text.data(), text.size());
  s.len = text.size();
  if (!write_note(s, "", 0)) {
    throw std::runtime_error(path + ": cannot write the note: " + std::strerror(errno));
  }
  s.armed.store(true);
  if (stood_down.load()) disarm(s);  // a stop signal came while arming
}

void on_fatal(int sig) {
  if (attempt_note.armed.exchange(false)) {
    const int saved = errno;
    char line[32] = "signal=";
    std::size_t n = 7;
    char digits[12];
    int d = 0;
    for (int v = sig; v > 0 || d == 0; v /= 10) digits[d++] = static_cast<char>('0' + v % 10);
    while (d > 0) line[n++] = digits[--d];
    line[n++] = '\n';
    write_note(attempt_note, line, n);
    errno = saved;
  }
  disarm(launch_note);  // this process saw its death: the launch was not killed as a whole
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
  arm(attempt_note, path, text);
}
void disarm_crash_note() { disarm(attempt_note); }
void arm_launch_note(const std::string& path, const std::string& text) {
  arm(launch_note, path, text);
}
void disarm_launch_note() { disarm(launch_note); }

void stand_down_notes() {
  stood_down.store(true);
  disarm(attempt_note);
  disarm(launch_note);
}

}  // namespace mammosweep::io
