#pragma once
// Running another program: fork/exec via posix_spawnp, stdin from /dev/null, stdout and
// stderr captured. Used for Slurm's commands (cluster/slurm.cpp) and the deployment
// converters (orchestrator/deploy_formats.cpp); and with the caller's stdio and signals
// passed on, for `mammosweep supervise` (orchestrator/cmd_supervise.cpp).
#include <stdexcept>
#include <string>
#include <vector>

namespace mammosweep::io {

class ProcessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal when killed by a signal
  std::string out, err;
};

/// Runs argv[0] (looked up in PATH when it has no '/') with argv and waits for it. Throws
/// ProcessError when it cannot be started ("cannot run 'CMD': No such file or directory").
ProcessResult run_process(const std::vector<std::string>& argv);

struct ForwardedRun {
  int exit_code = -1;        // exit status, or 128 + signal when killed by a signal
  int forwarded_signal = 0;  // the last signal passed on to the program, 0 when none
};

/// Runs argv (looked up in PATH) with this process's stdin, stdout and stderr and waits for
/// it. SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 that reach this process meanwhile are
/// passed on to it unchanged (a launcher's signals reach the sweep, as if this process were
/// not there). Throws ProcessError when it cannot be started.
ForwardedRun run_forwarding_signals(const std::vector<std::string>& argv);

/// argv joined by spaces, for messages.
std::string command_text(const std::vector<std::string>& argv);

}  // namespace mammosweep::io
