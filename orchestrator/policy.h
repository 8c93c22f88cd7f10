#pragma once
// Early-stopping policies: decide, each time a trial reports a validation epoch, whether it
// should go on training or stop now. One interface, one policy per file (policy_fifo.cpp,
// policy_median.cpp, policy_asha.cpp), the rules written out in docs/early-stopping.md.
//
// Protocol (the coordinator's side):
//   1. policy = make_policy(spec.early_stopping, early_stopping_goal(spec), max_epochs)
//   2. On resume, replay every stored epoch of every trial through on_epoch and ignore the
//      decisions. Each trial's own epochs must be replayed in order (1, 2, ...); trials may
//      be replayed one after another or interleaved in any way.
//   3. Each time a trial finishes an epoch: decision = on_epoch(trial_id, epoch, value).
//      stop -> the trial is ended and recorded as stopped_early, its epochs kept.
//
// Invariants every policy keeps:
//   - Deterministic: decisions are a pure function of the sequence of reports so far (no
//     clocks, no randomness, no dependence on hash or address order).
//   - Replay-safe: the state after a set of reports depends only on each trial's own ordered
//     reports, not on how trials were interleaved. So after the replay of step 2 the policy
//     decides exactly as it would have had the sweep never stopped, whatever order the
//     replay used (the decisions made *during* a replay can differ; they are ignored).
//   - A policy does not remember its own decisions: a trial it told to stop is not barred
//     from reporting again (the coordinator simply stops sending its epochs).
//   - Epochs count from 1. A trial's next report is its last epoch + 1, or an epoch it
//     already reported (a restart from an earlier checkpoint: its later epochs are forgotten
//     and the value replaces the old one). Anything else throws std::invalid_argument.
//   - NaN metric values count as the worst possible value.
//   - Not thread-safe: one coordinator thread calls it.
#include <memory>
#include <string>
#include <vector>

#include "sweeps/spec.h"

namespace mammosweep::orchestrator {

enum class Decision { proceed, stop };
const char* to_string(Decision d);  // "proceed" | "stop"

class SchedulingPolicy {
 public:
  virtual ~SchedulingPolicy();
  /// A trial finished `epoch` (>= 1) with `metric_value` of the early-stopping metric.
  /// Returns whether it should continue or stop now.
  virtual Decision on_epoch(const std::string& trial_id, int epoch, double metric_value) = 0;
  /// "fifo" | "median" | "asha"
  virtual std::string name() const = 0;
};

/// Builds the policy named by es.policy.
///   goal        whether larger or smaller values of the early-stopping metric are better
///               (see early_stopping_goal).
///   max_epochs  the most epochs any trial trains (ASHA puts no rung at or beyond it).
/// Throws std::invalid_argument naming the key and the bad value for an unknown policy,
/// grace_epochs < 0, min_trials < 1, reduction_factor <= 1 (asha) or max_epochs < 1.
std::unique_ptr<SchedulingPolicy> make_policy(const sweeps::EarlyStopping& es, sweeps::Goal goal,
                                              int max_epochs);

/// The metric the policy watches: early_stopping.metric, or the sweep metric when empty.
std::string early_stopping_metric(const sweeps::SweepSpec& spec);
/// The goal of early_stopping_metric(spec): the sweep's goal when it is the sweep metric;
/// otherwise minimize for val_loss and maximize for every other metric.
sweeps::Goal early_stopping_goal(const sweeps::SweepSpec& spec);

// --- The policies one by one (make_policy picks among these; tests build them directly) ---

/// Never stops a trial.
std::unique_ptr<SchedulingPolicy> make_fifo_policy();

struct MedianStoppingOptions {
  sweeps::Goal goal = sweeps::Goal::maximize;
  int grace_epochs = 1;  // no trial is stopped at an epoch t < grace_epochs
  int min_trials = 3;    // other trials that must have reached epoch t before T can stop
};
/// Median stopping rule (Golovin et al. 2017): at epoch t >= grace_epochs, trial T stops when
/// its best value over epochs 1..t is strictly worse than the median, over every OTHER trial
/// that has reported at least t epochs (running, finished or stopped), of that trial's mean
/// over its epochs 1..t; only when there are at least min_trials such trials. An even count
/// takes the mean of the two middle values.
std::unique_ptr<SchedulingPolicy> make_median_policy(const MedianStoppingOptions& options);

struct AshaOptions {
  sweeps::Goal goal = sweeps::Goal::maximize;
  int grace_epochs = 1;         // the first rung (0 is treated as 1)
  double reduction_factor = 3;  // eta > 1: keep the top 1/eta at each rung
  int max_epochs = 1;           // rungs lie strictly below it
  /// Explicit rung epochs (increasing; those >= max_epochs are dropped); empty = asha_rungs.
  /// W&B's hyperband brackets arrive here (sweeps/wandb.cpp).
  std::vector<int> rungs;
};
/// Asynchronous successive halving (Li et al. 2020), stopping form. When trial T reports
/// the epoch of rung k, its value is recorded at that rung (one value per trial per rung) and
/// T continues iff fewer than keep = max(1, floor(n / eta)) recorded values at that rung are
/// strictly better than its own, n counting T's. Epochs that are not rungs always proceed.
std::unique_ptr<SchedulingPolicy> make_asha_policy(const AshaOptions& options);

/// ASHA's rung epochs: ceil(base * eta^k) for k = 0, 1, ... while below max_epochs, with
/// base = max(grace_epochs, 1) and repeated epochs dropped (non-integer eta). An epoch equal
/// to max_epochs is no rung: a trial there finishes anyway. grace 1, eta 3, max 27 ->
/// {1, 3, 9}.
std::vector<int> asha_rungs(int grace_epochs, double reduction_factor, int max_epochs);

namespace detail {
/// Checks a report against the trial's last reported epoch (0: none yet): epoch must be in
/// [1, last_epoch + 1]. Throws std::invalid_argument naming policy, trial and both epochs.
void check_epoch(const char* policy, const std::string& trial_id, int last_epoch, int epoch);
/// NaN becomes the worst value: -inf when maximizing, +inf when minimizing.
double sanitize(double value, sweeps::Goal goal);
/// Whether sanitized a is strictly better than sanitized b.
inline bool better(double a, double b, sweeps::Goal goal) {
  return goal == sweeps::Goal::maximize ? a > b : a < b;
}
}  // namespace detail

}  // namespace mammosweep::orchestrator
