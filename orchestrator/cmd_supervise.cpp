// `mammosweep supervise [--max-relaunches N] -- LAUNCH...`: runs a sweep's launch command
// (mpirun ... mammosweep run SPEC --out DIR --resume) and launches it again after it ended
// abnormally, that is killed by a signal (status > 128: a rank that segfaulted, was killed by
// the OOM killer, or lost its node ends the whole MPI job). Each relaunch resumes; a trial
// whose process died is charged for it (orchestrator/process_deaths.h) and is failed after
// `retries` + 1 deaths, so a trial that crashes every time no longer stops the sweep.
// Signals that reach the supervisor (Ctrl-C, scancel, Slurm's warning) are passed on to the
// launch, which then ends as asked: no relaunch. The Slurm batch script runs its launcher
// through this command too (cluster/slurm.cpp).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>

#include "io/process.h"
#include "orchestrator/cli.h"

namespace mammosweep::orchestrator {
namespace {

struct SuperviseOptions {
  int max_relaunches = 3;
  std::vector<std::string> command;
};

void say(const std::string& line) {
  std::cout << "mammosweep supervise: " << line << "\n" << std::flush;
}

int supervise(const SuperviseOptions& opt) {
  if (std::find(opt.command.begin(), opt.command.end(), "--resume") == opt.command.end()) {
    std::cerr << "mammosweep supervise: the command has no --resume, so a relaunch would refuse "
                 "to continue the sweep; add --resume (it starts a new sweep too):\n  "
              << io::command_text(opt.command) << "\n";
    return kExitUsage;
  }
  for (int relaunch = 0;; ++relaunch) {
    io::ForwardedRun r;
    try {
      r = io::run_forwarding_signals(opt.command);
    } catch (const io::ProcessError& e) {
      std::cerr << "mammosweep supervise: " << e.what() << "\n";
      return kExitUsage;
    }
    if (r.forwarded_signal != 0) {
      say(fmt::format("the launch exited with status {} after SIG{} was passed on to it; not "
                      "relaunching",
                      r.exit_code, sigabbrev_np(r.forwarded_signal)));
      return r.exit_code;
    }
    if (r.exit_code <= 128) return r.exit_code;
    const int sig = r.exit_code - 128;
    const char* name = sig < NSIG ? strsignal(sig) : nullptr;
    if (relaunch == opt.max_relaunches) {
      say(fmt::format("the launch ended by signal {} ({}); not relaunching: {} of {} relaunches "
                      "used. Resume by running the same command again.",
                      sig, name ? name : "?", relaunch, opt.max_relaunches));
      return r.exit_code;
    }
    say(fmt::format("the launch ended by signal {} ({}): a process died. Relaunching ({} of at "
                    "most {}); the sweep resumes and charges the death to its trial.",
                    sig, name ? name : "?", relaunch + 1, opt.max_relaunches));
  }
}

}  // namespace

Command add_supervise_command(CLI::App& app) {
  auto opt = std::make_shared<SuperviseOptions>();
  CLI::App* cmd = app.add_subcommand(
      "supervise",
      "Run a sweep's launch command and relaunch it (resuming) when a process of it dies");
  cmd->add_option("--max-relaunches", opt->max_relaunches,
                  "Relaunches after abnormal ends, at most (default 3)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("command", opt->command,
                  "The launch: -- mpirun -np N mammosweep run SPEC --out DIR --resume")
      ->required();
  cmd->footer(
      "A launch killed by a signal (exit status > 128) is relaunched; any other status ends "
      "supervise with that status. See docs/reliability.md.");
  return [opt] { return supervise(*opt); };
}

}  // namespace mammosweep::orchestrator
