#pragma once
// Runs a sweep: prepares the data once, creates or reopens the results store, trains every
// trial that still needs it, records each epoch as it arrives, and prints the leaderboard.
//
// One process (`mammosweep run` without a launcher, or with one rank): the coordinator and
// its worker share the process. Under mpirun or srun rank 0 coordinates and the other ranks
// train (mpi_sweep.h). Each rank first derives the same Setup (run_setup.h); rank 0 then
// prepares the data and opens the store (store_setup.h). Trial state rules (resume):
//   done, stopped_early  kept
//   running              continues from its last complete epoch checkpoint
//   pending              starts
//   failed               retried only with retry_failed
// A spec whose text changed since the store was created is refused (with a diff) unless
// allow_spec_change; then only new trials are appended.
#include <atomic>
#include <string>
#include <vector>

namespace mammosweep::orchestrator {

struct RunOptions {
  std::string spec_path;
  std::string out_dir;
  std::string cache_dir;          // decode-once cache; default ~/.cache/mammosweep
  std::string data_root;          // overrides the spec's data.root when set
  std::vector<std::string> overrides;  // "--set KEY=VALUE" (see sweeps::load_spec)
  std::string only_trial;         // run just this trial (id or name); `mammosweep train`
  bool resume = false;            // required when out_dir already holds a sweep
  bool retry_failed = false;
  bool allow_spec_change = false;
  bool fail_on_trial_error = false;
  int threads = 0;                // 0: the spec's resources.threads, else all cores
  bool progress = true;           // progress bar on a terminal
  bool profile = false;           // print where the wall time went (io/phases.h)
};

/// With RunOptions::profile, prints this process's phase table (io/phases.h) under `title`
/// when it goes out of scope, against the wall time since it was made.
class ProfileReport {
 public:
  ProfileReport(bool enabled, std::string title);
  ~ProfileReport();
  ProfileReport(const ProfileReport&) = delete;
  ProfileReport& operator=(const ProfileReport&) = delete;

 private:
  bool enabled_;
  std::string title_;
  double start_;
};

/// Set by signal handlers; the running trial stops at the next step boundary.
std::atomic<bool>& stop_requested();
/// Installs SIGINT, SIGTERM and SIGUSR1 handlers that set stop_requested().
void install_stop_handlers();

/// Runs the sweep; returns the process exit code (see cli.h).
int run_sweep(const RunOptions& options);

}  // namespace mammosweep::orchestrator
