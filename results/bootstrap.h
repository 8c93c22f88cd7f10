#pragma once
// Percentile bootstrap confidence intervals for the validation metrics of one trial.
//
// Method
//   * Stratified resampling by default: each resample draws n_pos positives with replacement
//     from the positives and n_neg negatives from the negatives, so every resample has the
//     class balance of the data and AUC, sensitivity and specificity are always defined.
//     With `stratified = false` whole samples are drawn with replacement; resamples where a
//     metric is undefined (one class drawn) are dropped for that metric.
//   * B resamples (default 1000). The interval is [q(alpha/2), q(1 - alpha/2)] of the B
//     resampled values, alpha = 1 - confidence, q the linearly interpolated empirical quantile
//     (the "type 7" quantile of R/NumPy).
//   * Deterministic: a std::mt19937_64 seeded with `seed`, and indices drawn by rejection
//     sampling (no std::uniform_int_distribution, whose output differs across standard
//     libraries), so the same data and seed give the same interval on every platform.
//   * Cost O(B * n) after one O(n log n) sort: the AUC of a resample is computed from the
//     multiplicity of each sample, walking the samples in score order (ties count 1/2).
#include <cstdint>

#include "results/records.h"

namespace mammosweep::results {

struct BootstrapOptions {
  int resamples = 1000;       // B, >= 1
  double confidence = 0.95;   // in (0, 1)
  std::uint64_t seed = 20240601;
  double threshold = 0.5;     // score >= threshold predicts class 1
  bool stratified = true;
};

/// A point estimate with its percentile interval. All NaN when the metric is undefined on
/// the data (for example AUC with one class); lo/hi NaN when no resample defined it.
struct Interval {
  double point = kNaN;
  double lo = kNaN;
  double hi = kNaN;
  bool has_ci() const { return lo == lo && hi == hi; }  // neither is NaN
  /// True when both intervals exist and share at least one point.
  bool overlaps(const Interval& o) const {
    return has_ci() && o.has_ci() && lo <= o.hi && o.lo <= hi;
  }
};

struct BootstrapResult {
  Interval auc, accuracy, sensitivity, specificity, f1;
  int resamples = 0;
  double confidence = 0.95;
};

/// Bootstrap CIs of AUC, accuracy, sensitivity (recall), specificity and F1 of `p`.
/// Throws std::invalid_argument for invalid predictions (see validate_predictions) or
/// options (resamples < 1, confidence outside (0, 1)). Empty predictions give all NaN.
BootstrapResult bootstrap_ci(const Predictions& p, const BootstrapOptions& options = {});

/// Linearly interpolated empirical quantile of sorted `values` (q in [0, 1]); NaN if empty.
double quantile_sorted(const std::vector<double>& values, double q);

}  // namespace mammosweep::results
