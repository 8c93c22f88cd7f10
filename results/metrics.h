#pragma once
// Binary classification metrics of one split: confusion matrix, accuracy, precision (PPV),
// recall (sensitivity), specificity, F1 and the threshold-free ROC-AUC.
//
// Conventions
//   * Class 1 (malignant) is the positive class. Labels must be 0 or 1; scores are P(class 1)
//     and must not be NaN (both are checked, std::invalid_argument names the index).
//   * A score >= threshold predicts class 1 (default threshold 0.5).
//   * AUC is the Mann-Whitney statistic computed from mid-ranks: the probability that a random
//     positive scores higher than a random negative, where a tied pair counts one half.
//     It does not depend on the threshold.
//   * Degenerate cases give NaN instead of throwing (a sweep must not die over a metric):
//       accuracy     NaN when there are no samples
//       precision    NaN when nothing is predicted positive (tp + fp == 0)
//       recall       NaN when there is no positive sample (tp + fn == 0)
//       specificity  NaN when there is no negative sample (tn + fp == 0)
//       f1           NaN when precision or recall is NaN, or when both are 0
//       auc          NaN when either class is absent
//       loss         NaN when no loss was accumulated (count 0)
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "results/records.h"

namespace mammosweep::results {

/// Counts tp/fp/tn/fn of `p` at `threshold` (score >= threshold predicts 1).
ConfusionMatrix confusion_matrix(const Predictions& p, double threshold = 0.5);

/// Accuracy, precision, recall, specificity and F1 of `cm` (loss and auc stay NaN, cm is copied).
SplitMetrics metrics_from_confusion(const ConfusionMatrix& cm);

/// ROC-AUC by mid-ranks (ties count 1/2); NaN when either class is absent.
double roc_auc(const Predictions& p);

/// All metrics of `p` at `threshold`; `loss` is copied into the result as is.
SplitMetrics compute_metrics(const Predictions& p, double threshold = 0.5, double loss = kNaN);

/// One point of an ROC curve: using `threshold` (score >= threshold predicts 1) gives
/// false-positive rate `fpr` and true-positive rate `tpr`.
struct RocPoint {
  double fpr = 0.0;
  double tpr = 0.0;
  double threshold = 0.0;
};

/// The ROC curve of `p`: one point per distinct score, from (0,0) (threshold +inf) to (1,1)
/// (threshold = the lowest score), fpr and tpr non-decreasing. Tied scores form one diagonal
/// step, so the trapezoidal area under the points equals roc_auc(p). Empty when either class
/// is absent.
std::vector<RocPoint> roc_curve(const Predictions& p);

/// Throws std::invalid_argument when labels and scores differ in length, a label is not 0/1
/// or a score is NaN. `where` names the data in the message (for example "val predictions").
void validate_predictions(const Predictions& p, const char* where = "predictions");

/// Accumulates one split batch by batch. Keeps every (label, score) pair because the AUC
/// needs the full ranking; data-parallel ranks each accumulate their shard and the
/// coordinator merge()s them (or the cluster layer ships predictions() + loss sums).
/// Merging is exact: the merged result equals accumulating all batches in one place.
class MetricsAccumulator {
 public:
  explicit MetricsAccumulator(double threshold = 0.5) : threshold_(threshold) {}

  /// Adds a batch of `labels` and `scores` (same length) and the *sum* of the per-sample
  /// loss over `loss_count` samples (normally the batch size; 0 when no loss is tracked).
  void add(const std::vector<std::int8_t>& labels, const std::vector<float>& scores,
           double loss_sum, std::int64_t loss_count);
  /// Same, from raw arrays of `n` elements (for tensor data pointers).
  void add(const std::int8_t* labels, const float* scores, std::size_t n, double loss_sum,
           std::int64_t loss_count);
  /// Adds everything `other` holds. Throws std::invalid_argument if thresholds differ.
  void merge(const MetricsAccumulator& other);

  /// The loss sum, loss count, labels and scores as bytes (this machine's byte order: for
  /// the ranks of one data-parallel group, which gather them to merge every rank's share).
  std::string to_bytes() const;
  /// The inverse of to_bytes, at `threshold`. Throws std::invalid_argument when the bytes
  /// are not a whole encoding.
  static MetricsAccumulator from_bytes(const std::string& bytes, double threshold);

  /// Metrics of everything added so far; loss = loss_sum / loss_count (NaN if count is 0).
  SplitMetrics result() const;

  const ConfusionMatrix& confusion() const { return cm_; }
  const Predictions& predictions() const { return predictions_; }
  double loss_sum() const { return loss_sum_; }
  std::int64_t loss_count() const { return loss_count_; }
  double threshold() const { return threshold_; }
  void clear();

 private:
  double threshold_;
  ConfusionMatrix cm_;
  Predictions predictions_;
  double loss_sum_ = 0.0;
  std::int64_t loss_count_ = 0;
};

}  // namespace mammosweep::results
