#pragma once
// `method: bayes` in a running sweep: which trial the TPE sampler (sweeps/tpe.h) proposes
// next, and when. The coordinator asks for one trial each time a slot frees up.
//
// The order rule (what "the same order of completed results" means with several ranks):
// proposal k (0-based, = its position in results.h5) is computed from
//   - history: exactly the trials 0 .. k-W-1, which must all have finished, in proposal
//     order (not completion order), and
//   - running: exactly the trials k-W .. k-1 (the constant liar's points), finished or not,
// where W = `slots`, the trials this run can train at once. Which trials complete first
// varies from run to run with several ranks; under this rule it does not matter, so the
// same seed, spec and W give the same trials, and a killed sweep resumed with the same W
// proposes what an uninterrupted one would have (the history is rebuilt from results.h5).
// The price: a free slot waits while a trial older than the last W is still running (a
// long trial among early-stopped ones), instead of proposing without it.
#include <optional>
#include <vector>

#include "results/records.h"
#include "sweeps/spec.h"
#include "sweeps/tpe.h"
#include "sweeps/trial.h"

namespace mammosweep::orchestrator {

/// A trial already proposed, as the proposer sees it.
struct Proposed {
  sweeps::TrainingParams params;
  results::TrialStatus status = results::TrialStatus::pending;
  bool retrying = false;  // failed, but queued again in this run: not finished
  std::vector<results::EpochRecord> epochs;
};

/// What a finished trial tells the sampler (sweeps/sampler.h's Observation without the
/// point): nullopt for a trial that tells nothing (failed, no epoch, or a NaN metric).
/// done: the sweep metric at its best epoch (results/best_epoch.h); stopped_early: at its
/// last epoch, flagged stopped with the epochs it reached. Oriented: smaller is better.
std::optional<sweeps::Observation> observation_of(const Proposed& trial,
                                                  const sweeps::MetricSpec& metric);

class Proposer {
 public:
  /// Throws std::invalid_argument when the spec's search space is unusable.
  Proposer(const sweeps::SweepSpec& spec, int slots);
  int slots() const { return slots_; }

  /// Whether proposal number trials.size() can be made now (see the order rule above);
  /// false once max_trials trials exist or the space had no untried point left.
  bool ready(const std::vector<Proposed>& trials) const;
  /// Proposal number trials.size() (call only when ready()). A point whose trial already
  /// exists (possible in small discrete spaces) is drawn again as if running, up to 100
  /// times; nullopt then (and ready() stays false): the space has no untried point left.
  std::optional<sweeps::Trial> propose(const std::vector<Proposed>& trials);
  /// Whether proposal k came from the random start-up phase (for the progress line).
  bool random_phase(const std::vector<Proposed>& trials) const;

 private:
  std::vector<sweeps::Observation> history(const std::vector<Proposed>& trials) const;
  const sweeps::SweepSpec& spec_;
  sweeps::TpeSampler sampler_;
  int slots_;
  bool exhausted_ = false;
};

}  // namespace mammosweep::orchestrator
