// Parameter importance on objectives whose importances are known by construction.
#include <gtest/gtest.h>

#include <cmath>

#include "results/importance.h"
#include "results/plots.h"
#include "sweeps/splitmix.h"
#include "tests/results/trial_builders.h"

namespace mammosweep::results {
namespace {

double unit(std::uint64_t& s) {
  s = sweeps::splitmix64(s);
  return static_cast<double>(s >> 11) * 0x1.0p-53;
}

const ParamImportance& find(const std::vector<ParamImportance>& v, const std::string& name) {
  for (const auto& p : v) {
    if (p.name == name) return p;
  }
  throw std::runtime_error("no " + name);
}

TEST(Importance, LinearObjectiveRanksTheStrongParameterFirst) {
  // y = 10 x1 + 0.1 x2 + noise(sd ~0.3), 40 trials: x1 explains ~99% of the variance.
  std::uint64_t s = 7;
  TrialTable t;
  ParamColumn x1{"x1", true, {}, {}}, x2{"x2", true, {}, {}};
  for (int i = 0; i < 40; ++i) {
    const double a = unit(s), b = unit(s), noise = unit(s) - 0.5;
    x1.values.push_back(a);
    x2.values.push_back(b);
    t.metric.push_back(10 * a + 0.1 * b + noise);
    t.trial.push_back(static_cast<std::size_t>(i));
  }
  t.params = {x2, x1};
  const auto imp = parameter_importance(t);
  ASSERT_EQ(imp.size(), 2u);
  EXPECT_EQ(imp[0].name, "x1");
  // x1 explains ~0.95 of the variance (binning into 5 leaves ~0.04 within bins); x2's
  // epsilon^2 is 0 in expectation but fluctuates by chance at n = 40 (its bins pick up
  // uneven shares of x1), so it is bounded relative to x1, not to 0.
  EXPECT_GT(find(imp, "x1").epsilon_squared, 0.8);
  EXPECT_GT(find(imp, "x1").importance, 3 * find(imp, "x2").importance);
  EXPECT_GT(find(imp, "x1").correlation, 0.9);
  EXPECT_NEAR(find(imp, "x1").importance + find(imp, "x2").importance, 1.0, 1e-12);
  EXPECT_EQ(find(imp, "x1").groups, 5);  // 40 values: five equal-count bins
}

TEST(Importance, ACategoricalThatMattersDominates) {
  // sgd costs 0.2 of AUC; dropout does nothing; 24 trials.
  std::uint64_t s = 11;
  TrialTable t;
  ParamColumn opt{"optimizer", false, {}, {"adam", "rmsprop", "sgd"}};
  ParamColumn drop{"dropout", true, {}, {}};
  for (int i = 0; i < 24; ++i) {
    const int o = i % 3;
    opt.values.push_back(o);
    drop.values.push_back(0.1 + 0.5 * unit(s));
    t.metric.push_back(0.85 - (o == 2 ? 0.2 : 0.0) + 0.02 * (unit(s) - 0.5));
    t.trial.push_back(static_cast<std::size_t>(i));
  }
  t.params = {drop, opt};
  const auto imp = parameter_importance(t);
  EXPECT_EQ(imp[0].name, "optimizer");
  EXPECT_GT(find(imp, "optimizer").importance, 0.9);
  EXPECT_TRUE(std::isnan(find(imp, "optimizer").correlation));
  EXPECT_EQ(find(imp, "optimizer").groups, 3);
}

TEST(Importance, ByHandOnSixTrials) {
  // Two groups {1, 2, 3} and {5, 6, 7}: mean 4, SS_total = 9+4+1+1+4+9 = 28, SS_between =
  // 3*(2-4)^2 + 3*(6-4)^2 = 24, SS_within 4, df 4, MS_within 1:
  // eps^2 = (24 - 1) / (28 + 1) = 23/29.
  TrialTable t;
  t.metric = {1, 2, 3, 5, 6, 7};
  t.trial = {0, 1, 2, 3, 4, 5};
  t.params = {ParamColumn{"a", false, {0, 0, 0, 1, 1, 1}, {"x", "y"}}};
  const auto imp = parameter_importance(t);
  ASSERT_EQ(imp.size(), 1u);
  EXPECT_NEAR(imp[0].epsilon_squared, 23.0 / 29.0, 1e-12);
  EXPECT_EQ(imp[0].importance, 1.0);
  // Fewer than 4 trials: nothing to say.
  t.metric.resize(3);
  t.trial.resize(3);
  t.params[0].values.resize(3);
  EXPECT_TRUE(parameter_importance(t).empty());
}

TEST(Importance, InTheReport) {
  std::vector<TrialResult> trials;
  for (int i = 0; i < 6; ++i) {
    auto t = testing::trial("t" + std::to_string(i), {0.6 + 0.05 * i}, {0.5});
    t.params = {{"lr", std::to_string(0.001 * (i + 1))}, {"optimizer", i % 2 ? "adam" : "sgd"}};
    trials.push_back(t);
  }
  RankingOptions o;
  o.compute_cis = false;
  const std::string html = html_report(trials, rank_trials(trials, o));
  EXPECT_NE(html.find("<h3>Parameter importance</h3>"), std::string::npos);  // in the leaderboard
  EXPECT_NE(html.find("<tr><td>lr</td>"), std::string::npos);
}

}  // namespace
}  // namespace mammosweep::results
