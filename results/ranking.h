#pragma once
// The "model of the week" rule: pick one epoch per trial, order the trials, explain the winner.
//
// Rule (defaults; docs/leaderboard.md has the long form)
//   1. Eligible trials: status done or stopped_early with at least one epoch. Every other trial
//      (failed, pending, running, or no epoch recorded) is listed in Ranking::unranked with a
//      reason, never silently dropped.
//   2. Selected epoch per trial: `best` = the epoch with the best `metric` (goal max or min);
//      ties go to the lower val loss, then to the earlier epoch. `final` = the last epoch.
//   3. Order: better `metric` at the selected epoch; ties go to the lower val loss at that
//      epoch; then to the better stability (the smaller population standard deviation of the
//      val loss over the trial's last `stability_window` epochs; NaN with fewer than 2 epochs);
//      then to the name, then to the id (so the order is total and reproducible).
//      A NaN value always loses against a number.
//   4. Confidence intervals: percentile bootstrap (results/bootstrap.h) of the trial's
//      best_val_predictions, used only when those predictions belong to the selected epoch
//      (best_epoch unset or equal to it); otherwise the CI is reported as unavailable.
//   5. Justification: a paragraph built from the numbers. When the top two trials both have
//      a CI for the ranking metric and the intervals overlap it says so plainly:
//      "The winner is not significantly better than <runner-up>: their 95% confidence
//      intervals overlap."
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "results/bootstrap.h"
#include "results/records.h"

namespace mammosweep::results {

enum class Goal { maximize, minimize };
enum class EpochChoice { best, final };

struct RankingOptions {
  /// "<split>_<name>": split train|val; name loss, accuracy, precision, recall (sensitivity),
  /// specificity, f1 or auc. Examples: "val_auc" (default), "val_loss", "val_f1".
  std::string metric = "val_auc";
  Goal goal = Goal::maximize;
  EpochChoice by = EpochChoice::best;
  int stability_window = 3;  // epochs, >= 2
  bool compute_cis = true;   // false skips the bootstrap (faster; CIs unavailable)
  BootstrapOptions bootstrap;
};

/// Value of `metric` (see RankingOptions::metric) in `e`. Throws std::invalid_argument
/// naming the metric and the accepted names when it is unknown.
double epoch_metric(const EpochRecord& e, const std::string& metric);

/// Human name of a metric for text: "val_auc" -> "val AUC", "val_recall" -> "val sensitivity".
std::string metric_display_name(const std::string& metric);

struct RankedTrial {
  std::size_t index = 0;        // position in the input vector
  int rank = 0;                 // 1 = model of the week
  std::size_t epoch_index = 0;  // into TrialResult::epochs
  int epoch = 0;                // EpochRecord::epoch of the selected epoch
  double metric = kNaN;         // ranking metric at the selected epoch
  double val_loss = kNaN;       // at the selected epoch
  double stability = kNaN;      // std-dev of val loss over the last window epochs
  std::optional<BootstrapResult> ci;  // set when predictions of the selected epoch exist
  std::string ci_note;                // why `ci` is unset (empty when set)
};

struct UnrankedTrial {
  std::size_t index = 0;  // position in the input vector
  std::string reason;     // for example "failed: CUDA out of memory"
};

struct Ranking {
  std::string metric = "val_auc";  // copied from the options, for the exporters
  std::vector<RankedTrial> ranked;      // best first, rank 1..n
  std::vector<UnrankedTrial> unranked;  // input order
  /// Set when both of the top two have a CI for the ranking metric: do they overlap?
  std::optional<bool> top_two_ci_overlap;
  std::string justification;
  const RankedTrial* winner() const { return ranked.empty() ? nullptr : &ranked.front(); }
  /// The ranked entry of input trial `index`, or nullptr.
  const RankedTrial* find(std::size_t index) const;
};

/// The CI of the ranking metric in `ci` ("val_auc" -> auc, "val_accuracy" -> accuracy,
/// "val_recall"/"val_sensitivity" -> sensitivity, "val_specificity" -> specificity), or
/// nullptr when the bootstrap has no CI for that metric.
const Interval* metric_interval(const BootstrapResult& ci, const std::string& metric);

/// Applies the rule above. Throws std::invalid_argument for an unknown metric or a
/// stability_window < 2.
Ranking rank_trials(const std::vector<TrialResult>& trials, const RankingOptions& options = {});

}  // namespace mammosweep::results
