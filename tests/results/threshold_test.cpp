#include "results/threshold.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace mammosweep::results {
namespace {

using Kind = sweeps::ThresholdRule::Kind;

sweeps::ThresholdRule rule(Kind kind, double value = 0.5) {
  sweeps::ThresholdRule r;
  r.kind = kind;
  r.value = value;
  return r;
}

Predictions preds(std::vector<float> positives, std::vector<float> negatives) {
  Predictions p;
  for (float s : positives) {
    p.labels.push_back(1);
    p.scores.push_back(s);
  }
  for (float s : negatives) {
    p.labels.push_back(0);
    p.scores.push_back(s);
  }
  return p;
}

// Positives 0.9 0.8 0.6 0.3, negatives 0.7 0.4 0.2 0.1. Worked by hand, per distinct score t
// (sensitivity = positives >= t out of 4, specificity = negatives < t out of 4):
//   t     0.1   0.2   0.3   0.4   0.6   0.7   0.8   0.9
//   sens  4/4   4/4   4/4   3/4   3/4   2/4   2/4   1/4
//   spec  0/4   1/4   2/4   2/4   3/4   3/4   4/4   4/4
//   J     0     .25   .50   .25   .50   .25   .50   .25
const Predictions kVal = preds({0.9f, 0.8f, 0.6f, 0.3f}, {0.7f, 0.4f, 0.2f, 0.1f});

TEST(Threshold, YoudenTieGoesToTheLowestThreshold) {
  // J = 0.5 at 0.3, 0.6 and 0.8: the lowest one (sensitivity 1).
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::youden)), 0.3f);
}

// Positives 0.9 0.8 0.5, negatives 0.6 0.3 0.2 0.1:
//   t=0.5: sens 3/3, spec 3/4, J = 0.75;  t=0.8: sens 2/3, spec 4/4, J = 0.667;
//   t=0.6: sens 2/3, spec 3/4, J = 0.417; lower t have spec <= 2/4 and sens 1, J <= 0.5.
TEST(Threshold, YoudenUniqueMaximum) {
  EXPECT_DOUBLE_EQ(choose_threshold(preds({0.9f, 0.8f, 0.5f}, {0.6f, 0.3f, 0.2f, 0.1f}),
                                    rule(Kind::youden)),
                   0.5f);
}

TEST(Threshold, SensitivityTargetTakesTheHighestThresholdReachingIt) {
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::sensitivity, 0.75)), 0.6f);  // 3/4 at 0.6
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::sensitivity, 0.9)), 0.3f);   // 4/4 at 0.3
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::sensitivity, 0.5)), 0.8f);   // 2/4 at 0.8
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::sensitivity, 0.2)), 0.9f);   // 1/4 at 0.9
}

TEST(Threshold, SpecificityTargetTakesTheLowestThresholdReachingIt) {
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::specificity, 0.75)), 0.6f);  // 3/4 at 0.6
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::specificity, 0.9)), 0.8f);   // 4/4 at 0.8
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::specificity, 0.5)), 0.3f);   // 2/4 at 0.3
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::specificity, 0.1)), 0.2f);   // 1/4 at 0.2
}

// Positives 0.9 0.2, negatives 0.9 0.1: a negative ties the top score, so specificity is at
// most 1/2 (at t = 0.9 and at t = 0.2): 0.75 is out of reach, 0.5 is reached first at 0.2.
TEST(Threshold, TiedScoresAndAnUnreachableSpecificity) {
  const Predictions p = preds({0.9f, 0.2f}, {0.9f, 0.1f});
  EXPECT_DOUBLE_EQ(choose_threshold(p, rule(Kind::specificity, 0.5)), 0.2f);
  try {
    choose_threshold(p, rule(Kind::specificity, 0.75));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no validation score reaches specificity 0.75"),
              std::string::npos)
        << e.what();
  }
  // t = 0.9: sens 1/2 spec 1/2 (J 0); t = 0.2: sens 1, spec 1/2 (J 0.5); t = 0.1: J 0.
  EXPECT_DOUBLE_EQ(choose_threshold(p, rule(Kind::youden)), 0.2f);
}

TEST(Threshold, FixedIsTheValue) {
  EXPECT_DOUBLE_EQ(choose_threshold(kVal, rule(Kind::fixed, 0.35)), 0.35);
  EXPECT_DOUBLE_EQ(choose_threshold(Predictions{}, rule(Kind::fixed, 0.5)), 0.5);
  EXPECT_THROW(choose_threshold(kVal, rule(Kind::fixed, 1.5)), std::invalid_argument);
}

TEST(Threshold, ClearErrors) {
  const Predictions one_class = preds({0.9f, 0.4f}, {});
  try {
    choose_threshold(one_class, rule(Kind::youden));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "threshold youden: the validation predictions hold 2 positive and 0 negative "
              "images; sensitivity and specificity need both classes");
  }
  EXPECT_THROW(choose_threshold(one_class, rule(Kind::sensitivity, 0.9)), std::invalid_argument);
  EXPECT_THROW(choose_threshold(Predictions{}, rule(Kind::specificity, 0.9)),
               std::invalid_argument);
  EXPECT_THROW(choose_threshold(kVal, rule(Kind::sensitivity, 1.0)), std::invalid_argument);
  EXPECT_THROW(choose_threshold(kVal, rule(Kind::specificity, 0.0)), std::invalid_argument);
  Predictions bad = kVal;
  bad.labels[0] = 2;
  EXPECT_THROW(choose_threshold(bad, rule(Kind::youden)), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::results
