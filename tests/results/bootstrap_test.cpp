#include "results/bootstrap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "results/metrics.h"

namespace mammosweep::results {
namespace {

// A fixed, imperfect classifier on n samples: scores overlap between classes.
Predictions synthetic(int n) {
  Predictions p;
  for (int i = 0; i < n; ++i) {
    const std::int8_t y = (i % 3 == 0) ? 1 : 0;
    // Deterministic pseudo-noise in [0, 1).
    const double noise = std::fmod(std::sin(i * 12.9898) * 43758.5453, 1.0);
    const double s = 0.25 + 0.2 * y + 0.4 * (noise < 0 ? noise + 1.0 : noise);
    p.labels.push_back(y);
    p.scores.push_back(static_cast<float>(s));
  }
  return p;
}

Predictions replicate(const Predictions& p, int times) {
  Predictions r;
  for (int t = 0; t < times; ++t) {
    r.labels.insert(r.labels.end(), p.labels.begin(), p.labels.end());
    r.scores.insert(r.scores.end(), p.scores.begin(), p.scores.end());
  }
  return r;
}

void expect_contains(const Interval& iv, const char* what) {
  ASSERT_TRUE(iv.has_ci()) << what;
  EXPECT_LE(iv.lo, iv.point) << what;
  EXPECT_GE(iv.hi, iv.point) << what;
  EXPECT_LT(iv.lo, iv.hi) << what;
}

TEST(Bootstrap, QuantileIsLinearlyInterpolated) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 0.5), 2.5);    // h = 3 * 0.5 = 1.5
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 0.25), 1.75);  // h = 0.75
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 1.0), 4.0);
  EXPECT_TRUE(std::isnan(quantile_sorted({}, 0.5)));
}

TEST(Bootstrap, IntervalsContainPointEstimates) {
  const auto p = synthetic(300);
  const auto ci = bootstrap_ci(p);
  const auto m = compute_metrics(p);
  EXPECT_DOUBLE_EQ(ci.auc.point, m.auc);
  EXPECT_DOUBLE_EQ(ci.accuracy.point, m.accuracy);
  EXPECT_DOUBLE_EQ(ci.sensitivity.point, m.recall);
  EXPECT_DOUBLE_EQ(ci.specificity.point, m.specificity);
  EXPECT_DOUBLE_EQ(ci.f1.point, m.f1);
  expect_contains(ci.auc, "auc");
  expect_contains(ci.f1, "f1");
  expect_contains(ci.accuracy, "accuracy");
  expect_contains(ci.sensitivity, "sensitivity");
  expect_contains(ci.specificity, "specificity");
  EXPECT_EQ(ci.resamples, 1000);
  // Sanity on this data: an informative but imperfect classifier.
  EXPECT_GT(m.auc, 0.6);
  EXPECT_LT(m.auc, 0.99);
}

TEST(Bootstrap, WidthShrinksLikeOneOverSqrtN) {
  const auto p = synthetic(300);
  const auto small = bootstrap_ci(p);
  const auto big = bootstrap_ci(replicate(p, 4));  // 4x the data -> half the width
  const double auc_ratio = (big.auc.hi - big.auc.lo) / (small.auc.hi - small.auc.lo);
  const double acc_ratio =
      (big.accuracy.hi - big.accuracy.lo) / (small.accuracy.hi - small.accuracy.lo);
  EXPECT_NEAR(auc_ratio, 0.5, 0.12);
  EXPECT_NEAR(acc_ratio, 0.5, 0.12);
  EXPECT_DOUBLE_EQ(big.auc.point, small.auc.point);
}

TEST(Bootstrap, PerfectClassifierGivesOne) {
  Predictions p;
  for (int i = 0; i < 40; ++i) {
    p.labels.push_back(i % 2);
    p.scores.push_back(i % 2 ? 0.9f : 0.1f);
  }
  for (const bool stratified : {true, false}) {
    BootstrapOptions o;
    o.stratified = stratified;
    const auto ci = bootstrap_ci(p, o);
    for (const Interval* iv : {&ci.auc, &ci.accuracy, &ci.sensitivity, &ci.specificity}) {
      EXPECT_DOUBLE_EQ(iv->point, 1.0);
      EXPECT_DOUBLE_EQ(iv->lo, 1.0);
      EXPECT_DOUBLE_EQ(iv->hi, 1.0);
    }
  }
}

// Positives 0.9 and 0.1, one negative 0.4. A stratified resample draws two positives:
// both 0.9 (p 1/4) -> AUC 1, one of each (p 1/2) -> 0.5, both 0.1 (p 1/4) -> 0.
// So the 2.5% and 97.5% quantiles of 1000 resamples are 0 and 1; the point estimate is 0.5.
// The negative (0.4 < 0.5) is always drawn and always predicted 0. F1 = 2TP / (2TP+FP+FN):
// both 0.9 -> 1, one of each -> 2/3, both 0.1 -> no true positive, undefined (dropped); the
// point estimate is 2/3, so the interval is [2/3, 1].
TEST(Bootstrap, TinyCaseByHand) {
  Predictions p;
  p.labels = {1, 1, 0};
  p.scores = {0.9f, 0.1f, 0.4f};
  const auto ci = bootstrap_ci(p);
  EXPECT_DOUBLE_EQ(ci.auc.point, 0.5);
  EXPECT_DOUBLE_EQ(ci.auc.lo, 0.0);
  EXPECT_DOUBLE_EQ(ci.auc.hi, 1.0);
  EXPECT_DOUBLE_EQ(ci.specificity.lo, 1.0);
  EXPECT_DOUBLE_EQ(ci.specificity.hi, 1.0);
  EXPECT_DOUBLE_EQ(ci.f1.point, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ci.f1.lo, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ci.f1.hi, 1.0);
}

TEST(Bootstrap, SeedDeterminesResult) {
  const auto p = synthetic(120);
  BootstrapOptions a;
  a.seed = 1;
  BootstrapOptions b;
  b.seed = 2;
  const auto r1 = bootstrap_ci(p, a);
  const auto r2 = bootstrap_ci(p, a);
  const auto r3 = bootstrap_ci(p, b);
  EXPECT_EQ(r1.auc.lo, r2.auc.lo);
  EXPECT_EQ(r1.auc.hi, r2.auc.hi);
  EXPECT_EQ(r1.accuracy.lo, r2.accuracy.lo);
  EXPECT_TRUE(r1.auc.lo != r3.auc.lo || r1.auc.hi != r3.auc.hi);
}

TEST(Bootstrap, DegenerateAndInvalid) {
  Predictions one_class;
  one_class.labels = {1, 1, 1};
  one_class.scores = {0.2f, 0.7f, 0.8f};
  const auto ci = bootstrap_ci(one_class);
  EXPECT_TRUE(std::isnan(ci.auc.point));
  EXPECT_FALSE(ci.auc.has_ci());
  EXPECT_FALSE(ci.specificity.has_ci());
  EXPECT_TRUE(ci.sensitivity.has_ci());
  EXPECT_FALSE(bootstrap_ci(Predictions{}).accuracy.has_ci());

  BootstrapOptions bad;
  bad.resamples = 0;
  EXPECT_THROW(bootstrap_ci(one_class, bad), std::invalid_argument);
  bad.resamples = 10;
  bad.confidence = 1.0;
  EXPECT_THROW(bootstrap_ci(one_class, bad), std::invalid_argument);
}

TEST(Bootstrap, IntervalOverlap) {
  Interval a{0.9, 0.85, 0.95}, b{0.8, 0.7, 0.86}, c{0.7, 0.6, 0.8}, none{};
  EXPECT_TRUE(a.overlaps(b));
  EXPECT_TRUE(b.overlaps(a));
  EXPECT_FALSE(a.overlaps(c));
  EXPECT_FALSE(a.overlaps(none));
}

}  // namespace
}  // namespace mammosweep::results
