#pragma once
// The "model of the week" rule: pick one epoch per trial, order the trials, test the
// differences, apply the selection rule, explain the winner.
//
// Rule (defaults; docs/leaderboard.md has the long form)
//   1. Eligible trials: status done or stopped_early with at least one epoch. Every other trial
//      (failed, pending, running, or no epoch recorded) is listed in Ranking::unranked with a
//      reason, never silently dropped.
//   2. Selected epoch per trial: `best` = the best epoch by results/best_epoch.h (best
//      `metric`; ties go to the lower val loss, then to the earlier epoch), the same epoch
//      whose checkpoint the trainer keeps and whose predictions the coordinator stores.
//      `final` = the last epoch.
//   3. Metric order: better `metric` at the selected epoch; ties go to the lower val loss at
//      that epoch; then to the better stability (the smaller population standard deviation of
//      the val loss over the trial's last `stability_window` epochs; NaN with fewer than 2
//      epochs); then to the name, then to the id (so the order is total and reproducible).
//      A NaN value always loses against a number. The first trial in this order is the
//      reference of the paired tests.
//   4. Confidence intervals: percentile bootstrap (results/bootstrap.h) of the trial's
//      best_val_predictions, used only when those predictions belong to the selected epoch
//      (best_epoch unset or equal to it); otherwise the CI is reported as unavailable.
//   5. Paired test: every other ranked trial's val AUC is compared with the reference's by
//      DeLong's test (results/delong.h) on the stored predictions of both selected epochs,
//      which must be on the same validation images (same labels in the same order). It is
//      always about AUC, whatever the ranking metric. Otherwise it is unavailable, with a reason.
//   6. Selection rule:
//        best   the metric order stands; its first trial is the model of the week.
//        one_se candidates are the reference and every trial whose AUC is not significantly
//               worse than the reference's (not: DeLong p < alpha with a lower AUC; a trial
//               whose test is unavailable is not a candidate). The winner is the candidate
//               with the lower val loss at its selected epoch, then the smaller population
//               standard deviation of the ranking metric over its last `stability_window`
//               epochs (metric_stability, NaN loses), then the earlier metric position.
//               The winner moves to rank 1; the others keep the metric order behind it.
//               With a single ranked trial one_se falls back to best (and says so).
//   7. Justification: a paragraph built from the numbers: the winner, the rule that applied and
//      why the winner won, and DeLong's test of the winner against rank 2 ("X is not
//      significantly better than Y: AUC difference 0.034 [95% CI -0.010 to 0.080], DeLong
//      p = 0.130").
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "results/best_epoch.h"
#include "results/bootstrap.h"
#include "results/delong.h"
#include "results/records.h"

namespace mammosweep::results {

enum class EpochChoice { best, final };

using SelectionRule = sweeps::SelectionSpec::Rule;

struct SelectionOptions {
  SelectionRule rule = SelectionRule::best;
  /// Level of DeLong's test: "significant" is p < alpha, and the difference CIs are
  /// (1 - alpha) intervals. In (0, 0.5).
  double alpha = 0.05;
};

struct RankingOptions {
  /// "<split>_<name>": split train|val; name loss, accuracy, precision, recall (sensitivity),
  /// specificity, f1 or auc. Examples: "val_auc" (default), "val_loss", "val_f1".
  std::string metric = "val_auc";
  Goal goal = Goal::maximize;
  EpochChoice by = EpochChoice::best;
  int stability_window = 3;  // epochs, >= 2
  bool compute_cis = true;   // false skips the bootstrap (faster; CIs unavailable)
  BootstrapOptions bootstrap;
  SelectionOptions selection;
};

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
  /// Population std-dev of the ranking metric over the last window epochs (one_se's
  /// second criterion); NaN with fewer than 2 epochs.
  double metric_stability = kNaN;
  /// DeLong's test of this trial's val AUC against the reference's: a = this trial,
  /// b = the reference, so difference = AUC(this) - AUC(reference). Unset for the reference
  /// itself and when unavailable.
  std::optional<DelongResult> paired;
  /// "reference" for the reference; otherwise why `paired` is unset (empty when set).
  std::string paired_note;
  /// one_se only: the reference, or a trial whose AUC is not significantly worse than it.
  bool candidate = false;
};

struct UnrankedTrial {
  std::size_t index = 0;  // position in the input vector
  std::string reason;     // for example "failed: CUDA out of memory"
};

struct Ranking {
  std::string metric = "val_auc";  // copied from the options, for the exporters
  Goal goal = Goal::maximize;      // copied from the options
  SelectionRule requested_rule = SelectionRule::best;  // options.selection.rule
  SelectionRule rule = SelectionRule::best;  // what applied (best when one_se fell back)
  double alpha = 0.05;                       // options.selection.alpha
  std::vector<RankedTrial> ranked;      // model of the week first, rank 1..n
  std::vector<UnrankedTrial> unranked;  // input order
  /// Input index of the paired tests' reference: the first trial of the metric order.
  std::optional<std::size_t> reference;
  std::string justification;
  const RankedTrial* winner() const { return ranked.empty() ? nullptr : &ranked.front(); }
  /// The ranked entry of input trial `index`, or nullptr.
  const RankedTrial* find(std::size_t index) const;
};

/// The CI of the ranking metric in `ci` ("val_auc" -> auc, "val_accuracy" -> accuracy,
/// "val_recall"/"val_sensitivity" -> sensitivity, "val_specificity" -> specificity), or
/// nullptr when the bootstrap has no CI for that metric.
const Interval* metric_interval(const BootstrapResult& ci, const std::string& metric);

/// Applies the rule above. Throws std::invalid_argument for an unknown metric, a
/// stability_window < 2 or a selection alpha outside (0, 0.5).
Ranking rank_trials(const std::vector<TrialResult>& trials, const RankingOptions& options = {});

}  // namespace mammosweep::results
