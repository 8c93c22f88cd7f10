// Test-split evaluation records: the stored JSON round-trips, and a damaged row is an error
// that names the file, the row and the key.
#include "results/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace mammosweep::results {
namespace {

TestEvaluation sample(const std::string& trial, int epoch, const std::string& time) {
  TestEvaluation e;
  e.time = time;
  e.trial_id = trial;
  e.trial_name = "Model " + trial;
  e.epoch = epoch;
  e.rank = 1;
  e.threshold_rule = "sensitivity@0.9";
  e.threshold = 0.3125;
  e.images = 10;
  e.malignant = 4;
  e.ci.auc = {0.75, 0.5, 1.0};
  e.ci.sensitivity = {1.0, 1.0, 1.0};
  e.ci.specificity = {0.5, 0.25, 0.75};
  e.ci.accuracy = {0.7, 0.5, 0.9};
  e.ci.f1 = {0.727, std::nan(""), std::nan("")};  // no interval: stored as null
  e.ci.resamples = 1000;
  e.cm = {4, 3, 3, 0};
  e.earlier = 2;
  e.tool_version = "0.3.0";
  return e;
}

TEST(Evaluation, JsonRoundTrips) {
  const TestEvaluation e = sample("t1", 3, "2026-11-30T00:00:00Z");
  const TestEvaluation back = evaluation_from_json(to_json(e), "x");
  EXPECT_EQ(back.trial_id, "t1");
  EXPECT_EQ(back.trial_name, "Model t1");
  EXPECT_EQ(back.epoch, 3);
  EXPECT_EQ(back.threshold_rule, "sensitivity@0.9");
  EXPECT_DOUBLE_EQ(back.threshold, 0.3125);
  EXPECT_EQ(back.images, 10u);
  EXPECT_EQ(back.malignant, 4u);
  EXPECT_DOUBLE_EQ(back.ci.auc.lo, 0.5);
  EXPECT_DOUBLE_EQ(back.ci.specificity.hi, 0.75);
  EXPECT_DOUBLE_EQ(back.ci.f1.point, 0.727);
  EXPECT_TRUE(std::isnan(back.ci.f1.lo));
  EXPECT_EQ(back.cm, e.cm);
  EXPECT_EQ(back.earlier, 2u);
  EXPECT_EQ(back.ci.resamples, 1000);
}

TEST(Evaluation, LatestOfATrialAndEpoch) {
  const std::vector<TestEvaluation> all = {sample("t1", 3, "a"), sample("t2", 3, "b"),
                                           sample("t1", 3, "c"), sample("t1", 2, "d")};
  EXPECT_EQ(latest_evaluation(all, "t1", 3)->time, "c");
  EXPECT_EQ(latest_evaluation(all, "t1", 2)->time, "d");
  EXPECT_FALSE(latest_evaluation(all, "t2", 2).has_value());
}

TEST(Evaluation, DamagedRowNamesFileRowAndKey) {
  std::string good = to_json(sample("t1", 3, "a"));
  std::string bad = good;
  bad.replace(bad.find("\"threshold\""), 11, "\"threshhold\"");
  try {
    parse_evaluations({good, bad}, "runs/x/results.h5");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("runs/x/results.h5 /evaluations row 1"), std::string::npos) << what;
    EXPECT_NE(what.find("threshold"), std::string::npos) << what;
  }
  EXPECT_THROW(evaluation_from_json("not json", "x"), std::runtime_error);
}

}  // namespace
}  // namespace mammosweep::results
