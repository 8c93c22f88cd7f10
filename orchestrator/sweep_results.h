#pragma once
// Reading a sweep output folder for the result commands (`status`, `leaderboard`, `plot`):
// loading DIR/results.h5 with user-facing errors, turning the stored spec and command-line
// choices into ranking options, and summarising progress (counts, epochs, ETA).
//
// Everything here works while a sweep is still running: results::read_store opens the file
// in SWMR-read mode and sees every epoch the coordinator has flushed.
#include <cstddef>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "orchestrator/cli.h"
#include "results/evaluation.h"
#include "results/ranking.h"
#include "results/store.h"
#include "sweeps/spec.h"

namespace mammosweep::orchestrator {

/// A problem with what the user pointed us at (a folder without results.h5, an unreadable
/// store, an unknown metric). The commands print what() and exit with kExitUsage (2).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads DIR/results.h5. Throws InputError when the file does not exist ("DIR: no
/// results.h5 (is this a sweep output folder? ...)") or cannot be read as a sweep store.
results::SweepSnapshot load_sweep(const std::string& dir);

/// The spec stored in the file (info.spec_yaml), or std::nullopt when it is empty or no
/// longer parses (a file written by an older version); the results stay usable either way.
std::optional<sweeps::SweepSpec> stored_spec(const results::SweepInfo& info);

/// The test-split evaluations stored in DIR/results.h5 (SweepSnapshot::evaluations), oldest
/// first. Throws InputError naming the file and the row when one is malformed.
std::vector<results::TestEvaluation> test_evaluations(const results::SweepSnapshot& snapshot,
                                                      const std::string& dir);

/// What the user asked for on the command line; empty strings mean "not given".
struct RankingChoice {
  std::string metric;         // e.g. "val_auc"; empty = the spec's metric.name (or val_auc)
  std::string goal;           // "max"/"maximize" or "min"/"minimize"; empty = see below
  std::string by = "best";    // "best" or "final"
  int ci_resamples = 1000;    // 0 = no bootstrap confidence intervals
};

/// Ranking options for `snapshot`. The metric is choice.metric, else the stored spec's
/// metric, else "val_auc". The goal is choice.goal, else the spec's goal when the metric is
/// the spec's metric, else minimize for "*_loss" metrics and maximize for the rest. The
/// selection rule and its alpha come from the stored spec's selection: (best, 0.05 without).
/// Throws InputError for an unknown metric, goal or `by`, or negative ci_resamples.
results::RankingOptions ranking_options(const results::SweepSnapshot& snapshot,
                                        const RankingChoice& choice);

/// Progress of one trial.
struct TrialProgress {
  std::size_t index = 0;            // into snapshot.trials
  int epochs_done = 0;              // stored (complete) epochs
  std::optional<int> epochs_planned;  // params_json "epochs" when it is a positive integer
  double last_val_auc = results::kNaN;  // of the last stored epoch
};

/// Progress of a sweep and a simple ETA:
///   seconds_per_epoch = mean of EpochRecord::seconds over every stored epoch with a finite,
///                       non-negative value (NaN when none);
///   remaining_epochs  = sum over pending and running trials of (planned - done), unknown
///                       when such a trial has no planned epoch count;
///   eta_seconds       = seconds_per_epoch * remaining_epochs / running trials; 0 when
///                       nothing remains; unset when any input is unknown or nothing runs
///                       while epochs remain.
struct SweepProgress {
  std::vector<TrialProgress> trials;             // snapshot order
  std::map<results::TrialStatus, int> counts;    // every status, zero included
  int running = 0;
  double seconds_per_epoch = results::kNaN;
  std::optional<long> remaining_epochs;
  std::optional<double> eta_seconds;
};

SweepProgress summarize_progress(const results::SweepSnapshot& snapshot);

/// "45s", "3m 05s", "2h 07m" (seconds rounded to the nearest second).
std::string format_duration(double seconds);

/// Runs `action`; an InputError is printed to stderr and becomes kExitUsage (2).
template <class F>
int with_input_errors(F&& action) {
  try {
    return action();
  } catch (const InputError& e) {
    std::cerr << "mammosweep: error: " << e.what() << "\n";
    return kExitUsage;
  }
}

}  // namespace mammosweep::orchestrator
