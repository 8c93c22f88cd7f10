#include "io/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iterator>

extern char** environ;

namespace mammosweep::io {

namespace {

class Pipe {  // RAII pair of file descriptors
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      throw ProcessError(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void close_read() { close_fd(fds_[0]); }
  void close_write() { close_fd(fds_[1]); }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

class SpawnActions {  // RAII posix_spawn_file_actions_t
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

std::string command_text(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
  return text;
}

ProcessResult run_process(const std::vector<std::string>& argv) {
  Pipe out, err;
  SpawnActions actions;
  posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), out.write_end(), 1);
  posix_spawn_file_actions_adddup2(actions.get(), err.write_end(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(), environ);
  if (rc != 0) {
    throw ProcessError(fmt::format("cannot run '{}': {}", command_text(argv), std::strerror(rc)));
  }
  out.close_write();
  err.close_write();

  ProcessResult result;
  pollfd fds[2] = {{out.read_end(), POLLIN, 0}, {err.read_end(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_streams = 2;
  char buffer[4096];
  while (open_streams > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // EOF or error: stop polling it (the Pipe closes it)
        --open_streams;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw ProcessError(fmt::format("waiting for '{}' failed: {}", command_text(argv),
                                   std::strerror(errno)));
    }
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
volatile sig_atomic_t forward_to = 0;
volatile sig_atomic_t last_forwarded = 0;

extern "C" void mammosweep_forward_signal(int sig) {
  last_forwarded = sig;
  if (forward_to > 0) ::kill(static_cast<pid_t>(forward_to), sig);
}

class SpawnAttr {  // RAII posix_spawnattr_t
 public:
  SpawnAttr() { posix_spawnattr_init(&attr_); }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr_); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

}  // namespace

ForwardedRun run_forwarding_signals(const std::vector<std::string>& argv) {
  // The signals stay blocked from before the spawn until forward_to names the child, so one
  // that arrives in between is passed on, not lost; the child starts with the old mask and
  // default actions.
  sigset_t forwarded, old_mask;
  sigemptyset(&forwarded);
  for (int sig : kForwarded) sigaddset(&forwarded, sig);
  ::sigprocmask(SIG_BLOCK, &forwarded, &old_mask);
  struct sigaction sa {}, old_actions[std::size(kForwarded)];
  sa.sa_handler = mammosweep_forward_signal;
  sigemptyset(&sa.sa_mask);
  last_forwarded = 0;
  for (std::size_t i = 0; i < std::size(kForwarded); ++i) {
    ::sigaction(kForwarded[i], &sa, &old_actions[i]);
  }
  SpawnAttr attr;
  posix_spawnattr_setsigmask(attr.get(), &old_mask);
  posix_spawnattr_setsigdefault(attr.get(), &forwarded);
  posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = argv.empty() ? EINVAL
                              : posix_spawnp(&pid, args[0], nullptr, attr.get(), args.data(),
                                             environ);
  auto restore = [&] {
    forward_to = 0;
    for (std::size_t i = 0; i < std::size(kForwarded); ++i) {
      ::sigaction(kForwarded[i], &old_actions[i], nullptr);
    }
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  };
  if (rc != 0) {
    restore();
    throw ProcessError(fmt::format("cannot run '{}': {}", command_text(argv), std::strerror(rc)));
  }
  forward_to = pid;
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ForwardedRun r;
  r.forwarded_signal = last_forwarded;
  restore();
  r.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return r;
}

}  // namespace mammosweep::io
