#include "results/delong.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

namespace mammosweep::results {
namespace {

// ---------------------------------------------------------------------------------------------
// Independent reference: DeLong, DeLong & Clarke-Pearson (1988) written out literally, with
// the O(m n) double sum over (positive, negative) pairs and no ranks at all.
//   psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise
//   V10_i = (1/n) sum_j psi(X_i, Y_j),   V01_j = (1/m) sum_i psi(X_i, Y_j)
//   S10_rs = 1/(m-1) sum_i (V10_r,i - A_r)(V10_s,i - A_s), S01 likewise with n-1
//   Var(A_1 - A_2) = (S10_11 + S10_22 - 2 S10_12)/m + (S01_11 + S01_22 - 2 S01_12)/n
struct Brute {
  double auc[2] = {0, 0};
  double s10[2][2] = {}, s01[2][2] = {};
  double m = 0, n = 0;
};

double psi(double x, double y) { return x > y ? 1.0 : x == y ? 0.5 : 0.0; }

Brute brute_force(const std::vector<std::int8_t>& labels, const std::vector<float>& a,
                  const std::vector<float>& b) {
  std::vector<std::size_t> pos, neg;
  for (std::size_t i = 0; i < labels.size(); ++i) (labels[i] ? pos : neg).push_back(i);
  Brute r;
  r.m = static_cast<double>(pos.size());
  r.n = static_cast<double>(neg.size());
  const std::vector<float>* s[2] = {&a, &b};
  std::vector<double> v10[2], v01[2];
  for (int k = 0; k < 2; ++k) {
    for (std::size_t i : pos) {
      double sum = 0;
      for (std::size_t j : neg) sum += psi((*s[k])[i], (*s[k])[j]);
      v10[k].push_back(sum / r.n);
    }
    for (std::size_t j : neg) {
      double sum = 0;
      for (std::size_t i : pos) sum += psi((*s[k])[i], (*s[k])[j]);
      v01[k].push_back(sum / r.m);
    }
    double total = 0;
    for (double v : v10[k]) total += v;
    r.auc[k] = total / r.m;
  }
  for (int x = 0; x < 2; ++x) {
    for (int y = 0; y < 2; ++y) {
      double c10 = 0, c01 = 0;
      for (std::size_t i = 0; i < pos.size(); ++i) {
        c10 += (v10[x][i] - r.auc[x]) * (v10[y][i] - r.auc[y]);
      }
      for (std::size_t j = 0; j < neg.size(); ++j) {
        c01 += (v01[x][j] - r.auc[x]) * (v01[y][j] - r.auc[y]);
      }
      r.s10[x][y] = c10 / (r.m - 1);
      r.s01[x][y] = c01 / (r.n - 1);
    }
  }
  return r;
}

double brute_var_diff(const Brute& b) {
  return (b.s10[0][0] + b.s10[1][1] - 2 * b.s10[0][1]) / b.m +
         (b.s01[0][0] + b.s01[1][1] - 2 * b.s01[0][1]) / b.n;
}

// Published standard normal quantiles (Abramowitz & Stegun table 26.5, to 15 digits).
constexpr double kZ975 = 1.959963984540054;
constexpr double kZ995 = 2.575829303548900;
constexpr double kZ95 = 1.644853626951473;

Predictions preds(std::vector<std::int8_t> labels, std::vector<float> scores) {
  Predictions p;
  p.labels = std::move(labels);
  p.scores = std::move(scores);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Hand-worked example: 6 images, 3 positives (P) and 3 negatives (N), with ties.
//
//   image  label  score a  score b
//     0      P      0.8      0.7
//     1      N      0.3      0.7
//     2      P      0.6      0.4
//     3      N      0.6      0.2
//     4      P      0.9      0.9
//     5      N      0.1      0.5
//
// a: X = (0.8, 0.6, 0.9), Y = (0.3, 0.6, 0.1)
//   V10 = (3/3, (1 + 1/2 + 1)/3, 3/3) = (1, 5/6, 1)          AUC_a = 17/18
//   V01 = (3/3, (1 + 1/2 + 1)/3, 3/3) = (1, 5/6, 1)
// b: X = (0.7, 0.4, 0.9), Y = (0.7, 0.2, 0.5)
//   V10 = ((1/2 + 1 + 1)/3, (0 + 1 + 0)/3, 3/3) = (5/6, 1/3, 1)   AUC_b = 13/18
//   V01 = ((1/2 + 0 + 1)/3, 3/3, (1 + 0 + 1)/3) = (1/2, 1, 2/3)
// Deviations from the AUC, in 18ths:
//   V10_a: (1, -2, 1)   V10_b: (2, -7, 5)   V01_a: (1, -2, 1)   V01_b: (-4, 5, -1)
// Covariances (divide the sum of products by 18^2 = 324 and by m-1 = n-1 = 2):
//   S10_aa = 6/648   S10_bb = 78/648   S10_ab = (2 + 14 + 5)/648 = 21/648
//   S01_aa = 6/648   S01_bb = 42/648   S01_ab = (-4 - 10 - 1)/648 = -15/648
// Var(AUC_a - AUC_b) = (6 + 78 - 42)/648/3 + (6 + 42 + 30)/648/3 = 120/1944 = 5/81
//   se = sqrt(5)/9 = 0.248452, difference = 17/18 - 13/18 = 2/9 = 0.222222
//   z = (2/9)/(sqrt(5)/9) = 2/sqrt(5) = 0.894427, p = erfc(z/sqrt 2) = 0.371093
//   95% CI = 2/9 -/+ 1.959964 * sqrt(5)/9 = [-0.264735, 0.709179]
// Single-AUC variances: Var(AUC_a) = (6 + 6)/648/3 = 1/162, Var(AUC_b) = (78 + 42)/648/3 = 5/81.
const std::vector<std::int8_t> kLabels = {1, 0, 1, 0, 1, 0};
const std::vector<float> kA = {0.8f, 0.3f, 0.6f, 0.6f, 0.9f, 0.1f};
const std::vector<float> kB = {0.7f, 0.7f, 0.4f, 0.2f, 0.9f, 0.5f};

void expect_all_near(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

TEST(Delong, HandWorkedStructuralComponents) {
  const auto a = delong_components(preds(kLabels, kA));
  expect_all_near(a.v10, {1.0, 5.0 / 6.0, 1.0});
  expect_all_near(a.v01, {1.0, 5.0 / 6.0, 1.0});
  EXPECT_NEAR(a.auc, 17.0 / 18.0, 1e-12);
  const auto b = delong_components(preds(kLabels, kB));
  expect_all_near(b.v10, {5.0 / 6.0, 1.0 / 3.0, 1.0});
  expect_all_near(b.v01, {0.5, 1.0, 2.0 / 3.0});
  EXPECT_NEAR(b.auc, 13.0 / 18.0, 1e-12);
}

TEST(Delong, HandWorkedTest) {
  const auto r = delong_test(preds(kLabels, kA), preds(kLabels, kB));
  EXPECT_NEAR(r.auc_a, 17.0 / 18.0, 1e-12);
  EXPECT_NEAR(r.auc_b, 13.0 / 18.0, 1e-12);
  EXPECT_NEAR(r.difference, 2.0 / 9.0, 1e-12);
  EXPECT_NEAR(r.se, std::sqrt(5.0) / 9.0, 1e-12);
  EXPECT_NEAR(r.z, 2.0 / std::sqrt(5.0), 1e-12);
  EXPECT_NEAR(r.p_value, 0.371093369522698, 1e-9);
  EXPECT_NEAR(r.ci_lo, 2.0 / 9.0 - kZ975 * std::sqrt(5.0) / 9.0, 1e-12);
  EXPECT_NEAR(r.ci_hi, 2.0 / 9.0 + kZ975 * std::sqrt(5.0) / 9.0, 1e-12);
  EXPECT_NEAR(r.ci_lo, -0.264734744764768, 1e-9);
  EXPECT_NEAR(r.ci_hi, 0.709179189209212, 1e-9);
  EXPECT_EQ(r.positives, 3u);
  EXPECT_EQ(r.negatives, 3u);
  EXPECT_FALSE(r.significant());
  EXPECT_NEAR(delong_auc_variance(preds(kLabels, kA)), 1.0 / 162.0, 1e-12);
  EXPECT_NEAR(delong_auc_variance(preds(kLabels, kB)), 5.0 / 81.0, 1e-12);

  // 99% interval: the same se, a wider quantile.
  const auto r99 = delong_test(preds(kLabels, kA), preds(kLabels, kB), 0.01);
  EXPECT_NEAR(r99.ci_hi - r99.difference, kZ995 * std::sqrt(5.0) / 9.0, 1e-12);
  EXPECT_DOUBLE_EQ(r99.p_value, r.p_value);
}

TEST(Delong, SwappingTheModelsNegatesTheDifference) {
  const auto ab = delong_test(preds(kLabels, kA), preds(kLabels, kB));
  const auto ba = delong_test(preds(kLabels, kB), preds(kLabels, kA));
  EXPECT_NEAR(ba.difference, -ab.difference, 1e-15);
  EXPECT_NEAR(ba.se, ab.se, 1e-15);
  EXPECT_NEAR(ba.p_value, ab.p_value, 1e-15);
  const auto rev = reversed(ab);
  EXPECT_NEAR(rev.ci_lo, ba.ci_lo, 1e-15);
  EXPECT_NEAR(rev.ci_hi, ba.ci_hi, 1e-15);
  EXPECT_NEAR(rev.z, ba.z, 1e-15);
  EXPECT_EQ(rev.auc_a, ba.auc_a);
}

// Random data with many ties (scores on a grid of 0.05), correlated models, several sizes:
// the fast algorithm must agree with the literal O(m n) formulas.
TEST(Delong, MatchesBruteForceOnRandomData) {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.15);
  int tested = 0;
  for (int n : {4, 7, 30, 101, 400}) {
    for (int rep = 0; rep < 5; ++rep) {
      std::vector<std::int8_t> labels;
      std::vector<float> a, b;
      for (int i = 0; i < n; ++i) {
        const int y = i < 2 ? 1 : i < 4 ? 0 : (u(rng) < 0.4 ? 1 : 0);
        const double base = 0.35 + 0.25 * y + noise(rng);
        labels.push_back(static_cast<std::int8_t>(y));
        a.push_back(static_cast<float>(std::round((base + noise(rng) * 0.5) * 20) / 20));
        b.push_back(static_cast<float>(std::round((base + noise(rng)) * 20) / 20));
      }
      const Brute ref = brute_force(labels, a, b);
      const auto r = delong_test(preds(labels, a), preds(labels, b));
      const double se = std::sqrt(brute_var_diff(ref));
      SCOPED_TRACE(testing::Message() << "n=" << n << " rep=" << rep);
      EXPECT_NEAR(r.auc_a, ref.auc[0], 1e-12);
      EXPECT_NEAR(r.auc_b, ref.auc[1], 1e-12);
      EXPECT_NEAR(r.se, se, 1e-12);
      if (se > 1e-9) {
        const double z = (ref.auc[0] - ref.auc[1]) / se;
        EXPECT_NEAR(r.z, z, 1e-9);
        EXPECT_NEAR(r.p_value, std::erfc(std::fabs(z) / std::sqrt(2.0)), 1e-12);
        ++tested;
      } else {
        // Both models separate the classes perfectly on a tiny sample: 0/0, by convention
        // z = 0 and p = 1 (the differences are 0).
        EXPECT_EQ(r.difference, 0.0);
        EXPECT_EQ(r.p_value, 1.0);
      }
      EXPECT_NEAR(r.ci_lo, ref.auc[0] - ref.auc[1] - kZ975 * se, 1e-12);
      EXPECT_NEAR(r.ci_hi, ref.auc[0] - ref.auc[1] + kZ975 * se, 1e-12);
      // Single AUC: S10/m + S01/n of one model.
      EXPECT_NEAR(delong_auc_variance(preds(labels, a)), ref.s10[0][0] / ref.m + ref.s01[0][0] / ref.n,
                  1e-12);
      EXPECT_NEAR(delong_auc_variance(preds(labels, b)), ref.s10[1][1] / ref.m + ref.s01[1][1] / ref.n,
                  1e-12);
    }
  }
  EXPECT_GE(tested, 20);  // most draws are not degenerate
}

TEST(Delong, IdenticalScoresHaveZeroVarianceAndPOne) {
  const auto r = delong_test(preds(kLabels, kA), preds(kLabels, kA));
  EXPECT_EQ(r.difference, 0.0);
  EXPECT_EQ(r.se, 0.0);
  EXPECT_EQ(r.z, 0.0);
  EXPECT_EQ(r.p_value, 1.0);
  EXPECT_EQ(r.ci_lo, 0.0);
  EXPECT_EQ(r.ci_hi, 0.0);
  EXPECT_FALSE(r.significant());
}

// A perfect model against one that ranks every positive below every negative: each V10 and
// V01 is constant (1 and 0), so the variance is 0 while the difference is 1.
TEST(Delong, ZeroVarianceWithADifferenceIsSignificant) {
  const std::vector<std::int8_t> y = {1, 1, 0, 0};
  const auto r = delong_test(preds(y, {0.9f, 0.8f, 0.2f, 0.1f}), preds(y, {0.1f, 0.2f, 0.8f, 0.9f}));
  EXPECT_EQ(r.difference, 1.0);
  EXPECT_EQ(r.se, 0.0);
  EXPECT_TRUE(std::isinf(r.z) && r.z > 0);
  EXPECT_EQ(r.p_value, 0.0);
  EXPECT_EQ(r.ci_lo, 1.0);
  EXPECT_EQ(r.ci_hi, 1.0);
  EXPECT_TRUE(r.significant());
}

TEST(Delong, RefusesPredictionsOnDifferentImages) {
  const auto a = preds(kLabels, kA);
  auto shorter = a;
  shorter.labels.pop_back();
  shorter.scores.pop_back();
  EXPECT_EQ(delong_unavailable_reason(a, shorter),
            "the predictions are not on the same images (6 vs 5 images)");
  auto relabelled = a;
  relabelled.labels[1] = 1;
  relabelled.labels[2] = 0;
  EXPECT_EQ(delong_unavailable_reason(a, relabelled),
            "the predictions are not on the same images (labels differ at image 1)");
  EXPECT_THROW(delong_test(a, shorter), std::invalid_argument);
  try {
    delong_test(a, relabelled);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("labels differ at image 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(delong_unavailable_reason(a, a), "");
}

TEST(Delong, RefusesOneClassAndTooFewImages) {
  const auto one_class = preds({1, 1, 1}, {0.1f, 0.5f, 0.9f});
  EXPECT_EQ(delong_unavailable_reason(one_class, one_class),
            "DeLong's test needs at least 2 positive and 2 negative images, got 3 positive and 0 "
            "negative");
  EXPECT_THROW(delong_test(one_class, one_class), std::invalid_argument);
  EXPECT_THROW(delong_components(one_class), std::invalid_argument);
  const auto single_negative = preds({1, 1, 0}, {0.9f, 0.1f, 0.4f});
  EXPECT_THROW(delong_test(single_negative, single_negative), std::invalid_argument);
  EXPECT_THROW(delong_auc_variance(single_negative), std::invalid_argument);
  // The components themselves exist with one negative: V10 = (1, 0), V01 = (1/2).
  const auto c = delong_components(single_negative);
  expect_all_near(c.v10, {1.0, 0.0});
  expect_all_near(c.v01, {0.5});
  auto nan_score = preds(kLabels, kA);
  nan_score.scores[3] = std::nanf("");
  EXPECT_NE(delong_unavailable_reason(nan_score, nan_score).find("NaN"), std::string::npos)
      << delong_unavailable_reason(nan_score, nan_score);
  EXPECT_THROW(delong_test(preds(kLabels, kA), preds(kLabels, kB), 0.0), std::invalid_argument);
  EXPECT_THROW(delong_test(preds(kLabels, kA), preds(kLabels, kB), 1.0), std::invalid_argument);
}

TEST(Delong, NormalQuantileMatchesPublishedValues) {
  EXPECT_NEAR(normal_quantile(0.975), kZ975, 1e-12);
  EXPECT_NEAR(normal_quantile(0.995), kZ995, 1e-12);
  EXPECT_NEAR(normal_quantile(0.95), kZ95, 1e-12);
  EXPECT_NEAR(normal_quantile(0.025), -kZ975, 1e-12);
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-15);
  EXPECT_TRUE(std::isnan(normal_quantile(0.0)));
  EXPECT_TRUE(std::isnan(normal_quantile(1.0)));
}

}  // namespace
}  // namespace mammosweep::results
