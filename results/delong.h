#pragma once
// DeLong's test for two correlated ROC-AUCs measured on the same cases.
//
// Method (DeLong, DeLong & Clarke-Pearson 1988, Biometrics 44:837-845; computed with the
// midrank algorithm of Sun & Xu 2014, IEEE Signal Processing Letters 21(11):1389-1393)
//   m positives X_1..X_m, n negatives Y_1..Y_n, psi(x, y) = 1 if x > y, 1/2 if x == y, else 0.
//   Structural components of a score vector:
//     V10_i = (1/n) sum_j psi(X_i, Y_j)      (one per positive)
//     V01_j = (1/m) sum_i psi(X_i, Y_j)      (one per negative)
//     AUC   = mean of V10 = mean of V01
//   Sun & Xu get them in O((m+n) log(m+n)) from midranks: with T_z the midrank of a score
//   among all m+n scores, T_x among the positives only and T_y among the negatives only,
//     V10_i = (T_z(X_i) - T_x(X_i)) / n,   V01_j = 1 - (T_z(Y_j) - T_y(Y_j)) / m.
//   For two score vectors a and b on the same cases, S10 and S01 are the 2x2 sample
//   covariance matrices (denominators m-1 and n-1) of (V10_a, V10_b) and (V01_a, V01_b), and
//     Var(AUC_a - AUC_b) = (S10_aa + S10_bb - 2 S10_ab) / m + (S01_aa + S01_bb - 2 S01_ab) / n.
//   z = (AUC_a - AUC_b) / se, two-sided p = erfc(|z| / sqrt 2), and the (1 - alpha) interval
//   of the difference is (AUC_a - AUC_b) +/- z_{1-alpha/2} se (normal approximation).
//   Zero variance (for example identical score vectors): difference 0 gives z = 0 and p = 1;
//   a non-zero difference gives z = +/-inf, p = 0 and the interval [difference, difference].
//
// Requirements: both prediction sets are on the same images in the same order (identical
// label vectors), with at least 2 positives and 2 negatives (the covariances divide by
// m-1 and n-1). Anything else is refused with a reason (delong_unavailable_reason).
#include <string>
#include <vector>

#include "results/records.h"

namespace mammosweep::results {

/// Structural components of one score vector (positives and negatives in input order).
struct DelongComponents {
  double auc = kNaN;
  std::vector<double> v10;  // one per positive
  std::vector<double> v01;  // one per negative
};

/// V10, V01 and the AUC of `p` by Sun & Xu's midrank algorithm. Throws std::invalid_argument
/// for invalid predictions (validate_predictions) or when either class is absent.
DelongComponents delong_components(const Predictions& p);

/// DeLong's variance of a single AUC: S10 / m + S01 / n (sample variances, denominators
/// m-1 and n-1). Throws like delong_components, and when a class has fewer than 2 samples.
double delong_auc_variance(const Predictions& p);

struct DelongResult {
  double auc_a = kNaN, auc_b = kNaN;
  double difference = kNaN;  // auc_a - auc_b
  double se = kNaN;          // standard error of the difference
  double ci_lo = kNaN, ci_hi = kNaN;  // (1 - alpha) normal-approximation interval
  double z = kNaN;
  double p_value = kNaN;     // two-sided
  double alpha = 0.05;
  std::size_t positives = 0, negatives = 0;
  bool significant() const { return p_value < alpha; }
};

/// The same test with a and b swapped: AUCs exchanged, difference, z and interval negated.
DelongResult reversed(const DelongResult& r);

/// Empty when the two prediction sets can be compared; otherwise why not (different lengths,
/// different labels, invalid predictions, a class with fewer than 2 images).
std::string delong_unavailable_reason(const Predictions& a, const Predictions& b);

/// DeLong's paired test of AUC(a) - AUC(b). Throws std::invalid_argument with
/// delong_unavailable_reason's message, or when alpha is not in (0, 1).
DelongResult delong_test(const Predictions& a, const Predictions& b, double alpha = 0.05);

/// Quantile of the standard normal distribution (q in (0, 1)), for example
/// normal_quantile(0.975) = 1.959964; NaN outside (0, 1).
double normal_quantile(double q);

}  // namespace mammosweep::results
