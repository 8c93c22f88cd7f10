#pragma once
// The one rule that decides which epoch is a trial's best. Everything that needs "the best
// epoch" uses it: the trainer (which checkpoint to keep), the coordinator (whose validation
// predictions to store), ranking (which epoch to rank and bootstrap) and export.
//
// Rule: the epoch with the better `metric` (goal maximize or minimize) wins; on a tie the
// lower val loss wins; on a tie of both the earlier epoch stays. NaN loses against a number.
// Because ties keep the earlier epoch, offering epochs one at a time (BestEpoch, during
// training) picks the same epoch as looking at all of them at once (best_epoch_index).
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "results/records.h"
#include "sweeps/spec.h"

namespace mammosweep::results {

using Goal = sweeps::Goal;

/// -1 when a is better, +1 when b is better, 0 on a tie. NaN loses against any number.
int compare(double a, double b, Goal goal);

/// Value of `metric` in `e`: "<split>_<name>", split train|val; name loss, accuracy,
/// precision, recall (sensitivity), specificity, f1 or auc. Throws std::invalid_argument
/// naming the metric and the accepted names when it is unknown.
double epoch_metric(const EpochRecord& e, const std::string& metric);

/// How the best-epoch rule compares two epochs: -1 when a is the better epoch, +1 when b
/// is, 0 when the rule cannot tell them apart (the earlier one then stays).
int compare_epochs(const EpochRecord& a, const EpochRecord& b, const std::string& metric,
                   Goal goal);

/// Index of the best epoch of `epochs` (in recorded order); 0 when empty.
std::size_t best_epoch_index(const std::vector<EpochRecord>& epochs, const std::string& metric,
                             Goal goal);

/// The rule applied online: offer() the epochs in order.
class BestEpoch {
 public:
  BestEpoch(std::string metric, Goal goal) : metric_(std::move(metric)), goal_(goal) {}
  /// True when `e` becomes the best epoch (always for the first one offered).
  bool offer(const EpochRecord& e);
  /// Restores the state after a resume: the best epoch so far, its metric and val loss.
  void restore(int epoch, double metric, double val_loss);
  int epoch() const { return epoch_; }  // 0 before any offer
  double metric() const { return value_; }
  double val_loss() const { return loss_; }

 private:
  std::string metric_;
  Goal goal_;
  int epoch_ = 0;
  double value_ = kNaN, loss_ = kNaN;
};

}  // namespace mammosweep::results
