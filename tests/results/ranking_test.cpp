#include "results/ranking.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "results/trial_builders.h"

namespace mammosweep::results {
namespace {

using testing::one_se_trials;
using testing::predictions;
using testing::trial;

std::vector<std::string> order(const std::vector<TrialResult>& trials, const Ranking& r) {
  std::vector<std::string> names;
  for (const auto& rt : r.ranked) names.push_back(trials[rt.index].name);
  return names;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Ranking, BestEpochTiesGoToLowerLossThenEarlierEpoch) {
  RankingOptions o;
  o.compute_cis = false;
  // AUC ties at epochs 2 and 3; epoch 3 has the lower val loss.
  auto r = rank_trials({trial("a", {0.8, 0.9, 0.9}, {0.5, 0.4, 0.3})}, o);
  ASSERT_EQ(r.ranked.size(), 1u);
  EXPECT_EQ(r.ranked[0].epoch, 3);
  // AUC and loss tie at epochs 2 and 3: the earlier epoch wins.
  r = rank_trials({trial("a", {0.8, 0.9, 0.9}, {0.5, 0.4, 0.4})}, o);
  EXPECT_EQ(r.ranked[0].epoch, 2);
  EXPECT_DOUBLE_EQ(r.ranked[0].metric, 0.9);
  EXPECT_DOUBLE_EQ(r.ranked[0].val_loss, 0.4);
  // `final` takes the last epoch whatever its value.
  o.by = EpochChoice::final;
  r = rank_trials({trial("a", {0.8, 0.95, 0.7}, {0.5, 0.4, 0.6})}, o);
  EXPECT_EQ(r.ranked[0].epoch, 3);
  EXPECT_DOUBLE_EQ(r.ranked[0].metric, 0.7);
}

TEST(Ranking, HigherAucFirst) {
  RankingOptions o;
  o.compute_cis = false;
  const std::vector<TrialResult> t = {trial("Model 1", {0.80, 0.897}, {0.5, 0.45}),
                                      trial("Model 2", {0.85, 0.913}, {0.5, 0.48}),
                                      trial("Model 3", {0.70, 0.60}, {0.6, 0.7})};
  const auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"Model 2", "Model 1", "Model 3"}));
  EXPECT_EQ(r.ranked[0].rank, 1);
  EXPECT_EQ(r.ranked[2].rank, 3);
  EXPECT_EQ(r.ranked[2].epoch, 1);  // 0.70 at epoch 1 beats 0.60 at epoch 2
  EXPECT_TRUE(contains(r.justification,
                       "Model 2 is the model of the week: val AUC 0.913 at epoch 2 of 2"))
      << r.justification;
  EXPECT_TRUE(contains(r.justification, "It is ahead of Model 1 (val AUC 0.897 at epoch 2, "
                                        "val loss 0.450)."))
      << r.justification;
  EXPECT_TRUE(contains(r.justification, "3 trials were ranked.")) << r.justification;
  EXPECT_TRUE(contains(r.justification, "Confidence intervals are unavailable for Model 2 and "
                                        "Model 1 (bootstrap disabled)."))
      << r.justification;
  EXPECT_TRUE(contains(r.justification, " Rule best: the best val AUC wins.")) << r.justification;
}

TEST(Ranking, AucTieGoesToLowerValLoss) {
  RankingOptions o;
  o.compute_cis = false;
  const std::vector<TrialResult> t = {trial("a", {0.9}, {0.35}), trial("b", {0.9}, {0.30})};
  const auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"b", "a"}));
  EXPECT_TRUE(contains(r.justification,
                       "Both reach val AUC 0.900, so the tie goes to the lower val loss "
                       "(0.300 vs 0.350)."))
      << r.justification;
}

// Same AUC and val loss at the selected epoch (epoch 3). Stability over the last 3 epochs:
//   "A steady" losses 0.31 0.32 0.30: mean 0.31, deviations 0, 0.01, -0.01,
//      population std = sqrt(0.0002 / 3) = 0.0081650
//   "B jumpy"  losses 0.40 0.34 0.30: mean 0.346667, deviations 0.053333, -0.006667, -0.046667,
//      squares 0.0028444 + 0.0000444 + 0.0021778 = 0.0050667, std = sqrt(0.0050667/3) = 0.0410961
TEST(Ranking, LossTieGoesToStability) {
  RankingOptions o;
  o.compute_cis = false;
  const std::vector<TrialResult> t = {trial("B jumpy", {0.7, 0.8, 0.9}, {0.40, 0.34, 0.30}),
                                      trial("A steady", {0.7, 0.8, 0.9}, {0.31, 0.32, 0.30})};
  const auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"A steady", "B jumpy"}));
  EXPECT_NEAR(r.ranked[0].stability, 0.0081650, 1e-6);
  EXPECT_NEAR(r.ranked[1].stability, 0.0410961, 1e-6);
  EXPECT_TRUE(contains(r.justification, "tie goes to the more stable val loss over the last 3 "
                                        "epochs (standard deviation 0.008 vs 0.041)"))
      << r.justification;

  // The steadier trial must win even when its name sorts last.
  const std::vector<TrialResult> t2 = {trial("A jumpy", {0.7, 0.8, 0.9}, {0.40, 0.34, 0.30}),
                                       trial("Z steady", {0.7, 0.8, 0.9}, {0.31, 0.32, 0.30})};
  EXPECT_EQ(order(t2, rank_trials(t2, o)), (std::vector<std::string>{"Z steady", "A jumpy"}));
}

TEST(Ranking, FullTieFallsBackToNameThenId) {
  RankingOptions o;
  o.compute_cis = false;
  std::vector<TrialResult> t = {trial("beta", {0.9, 0.9}, {0.3, 0.3}),
                                trial("alpha", {0.9, 0.9}, {0.3, 0.3})};
  auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_TRUE(contains(r.justification, "falls back to the name")) << r.justification;
  t[0].name = "alpha";
  t[0].id = "id-0";
  t[1].id = "id-1";
  r = rank_trials(t, o);
  EXPECT_EQ(r.ranked[0].index, 0u);
}

TEST(Ranking, OneEpochTrialHasUnknownStabilityAndLosesTheTie) {
  RankingOptions o;
  o.compute_cis = false;
  const std::vector<TrialResult> t = {trial("a", {0.9}, {0.3}),
                                      trial("b", {0.5, 0.9}, {0.5, 0.3})};
  const auto r = rank_trials(t, o);
  EXPECT_TRUE(std::isnan(r.ranked[1].stability));
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"b", "a"}));
}

TEST(Ranking, OnlyFinishedTrialsAreRanked) {
  RankingOptions o;
  o.compute_cis = false;
  auto failed = trial("oom", {0.99}, {0.1}, TrialStatus::failed);
  failed.failure_reason = "CUDA out of memory";
  auto stopped = trial("stopped", {0.7, 0.71}, {0.5, 0.5}, TrialStatus::stopped_early);
  stopped.failure_reason = "early stopping: no improvement for 2 epochs";
  const std::vector<TrialResult> t = {
      trial("ok", {0.8}, {0.4}), failed, trial("running", {0.95}, {0.1}, TrialStatus::running),
      trial("empty", {}, {}), stopped, trial("silent", {}, {}, TrialStatus::failed)};
  const auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"ok", "stopped"}));
  ASSERT_EQ(r.unranked.size(), 4u);
  EXPECT_EQ(r.unranked[0].index, 1u);
  EXPECT_EQ(r.unranked[0].reason, "failed: CUDA out of memory");
  EXPECT_EQ(r.unranked[1].reason, "not finished (status running)");
  EXPECT_EQ(r.unranked[2].reason, "no epoch recorded (status done)");
  EXPECT_EQ(r.unranked[3].reason, "failed: no reason recorded");
  EXPECT_TRUE(contains(r.justification, "2 trials were ranked; 4 were not ranked and are "
                                        "listed separately."))
      << r.justification;
}

TEST(Ranking, NoRankedTrial) {
  const auto r = rank_trials({trial("x", {0.9}, {0.3}, TrialStatus::failed)});
  EXPECT_EQ(r.winner(), nullptr);
  EXPECT_EQ(r.justification, "No model of the week: no trial finished with at least one epoch.");
}

TEST(Ranking, MinimiseValLoss) {
  RankingOptions o;
  o.compute_cis = false;
  o.metric = "val_loss";
  o.goal = Goal::minimize;
  const std::vector<TrialResult> t = {trial("a", {0.9, 0.9}, {0.4, 0.2}),
                                      trial("b", {0.95, 0.8}, {0.3, 0.25})};
  const auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.ranked[0].epoch, 2);
  EXPECT_EQ(r.ranked[1].epoch, 2);
  EXPECT_TRUE(contains(r.justification, "a is the model of the week: val loss 0.200"))
      << r.justification;
}

TEST(Ranking, MetricNames) {
  EpochRecord e;
  e.train.accuracy = 0.7;
  e.val.recall = 0.6;
  e.val.f1 = 0.5;
  EXPECT_DOUBLE_EQ(epoch_metric(e, "train_accuracy"), 0.7);
  EXPECT_DOUBLE_EQ(epoch_metric(e, "val_sensitivity"), 0.6);
  EXPECT_DOUBLE_EQ(epoch_metric(e, "val_f1"), 0.5);
  EXPECT_THROW(epoch_metric(e, "val_bogus"), std::invalid_argument);
  EXPECT_THROW(epoch_metric(e, "auc"), std::invalid_argument);
  RankingOptions o;
  o.metric = "test_auc";
  EXPECT_THROW(rank_trials({}, o), std::invalid_argument);
  EXPECT_EQ(metric_display_name("val_auc"), "val AUC");
  EXPECT_EQ(metric_display_name("val_recall"), "val sensitivity");
}

Predictions with_scores(std::vector<std::int8_t> labels, std::vector<float> scores) {
  Predictions p;
  p.labels = std::move(labels);
  p.scores = std::move(scores);
  return p;
}

// 200 images (labels alternate 0, 1). "perfect" separates them; "noisy" gives every 4th
// image (a negative) the positive score 0.9. Worked by hand (DeLong's structural components):
//   noisy: every positive (0.9) ties 50 negatives and beats 50: V10 = (50 + 25)/100 = 0.75 for
//   all; 50 negatives at 0.9 tie every positive (V01 = 0.5), 50 at 0.1 (V01 = 1): AUC 0.75.
//   perfect: V10 = V01 = 1. Only V01 of noisy varies: sample variance 100 * 0.25^2 / 99, so
//   Var(noisy - perfect) = 6.25 / 99 / 100, se = 0.0251259, difference -0.25,
//   z = -9.95 (p < 0.001), 95% CI -0.25 -/+ 1.959964 * 0.0251259 = [-0.299, -0.201].
TEST(Ranking, DelongDecidesTheSignificanceSentence) {
  auto a = trial("perfect", {1.0}, {0.1});
  a.best_epoch = 1;
  a.best_val_predictions = predictions(200, 0.9f, 0.1f, 0);
  auto b = trial("noisy", {0.75}, {0.5});
  b.best_val_predictions = predictions(200, 0.9f, 0.1f, 4);
  auto r = rank_trials({a, b});
  ASSERT_EQ(r.reference, std::optional<std::size_t>(0));
  EXPECT_EQ(r.ranked[0].paired_note, "reference");
  EXPECT_FALSE(r.ranked[0].paired.has_value());
  ASSERT_TRUE(r.ranked[1].paired.has_value());
  const DelongResult& d = *r.ranked[1].paired;
  const double se = std::sqrt(6.25 / 99.0 / 100.0);
  EXPECT_NEAR(d.difference, -0.25, 1e-12);
  EXPECT_NEAR(d.se, se, 1e-12);
  EXPECT_NEAR(d.ci_lo, -0.25 - 1.959963984540054 * se, 1e-9);
  EXPECT_NEAR(d.ci_hi, -0.25 + 1.959963984540054 * se, 1e-9);
  EXPECT_NEAR(d.p_value, std::erfc(0.25 / se / std::sqrt(2.0)), 1e-15);
  EXPECT_TRUE(contains(r.justification, "val AUC 1.000 [95% CI 1.000-1.000] at epoch 1 of 1"))
      << r.justification;
  EXPECT_TRUE(contains(r.justification,
                       " perfect is significantly better than noisy in val AUC: AUC difference "
                       "0.250 [95% CI 0.201 to 0.299], DeLong p < 0.001 (paired, on the same 200 "
                       "validation images)."))
      << r.justification;
  EXPECT_FALSE(contains(r.justification, "overlap")) << r.justification;

  // Predictions of another epoch are not used, for the CI nor for the paired test.
  auto e = a;
  e.best_epoch = 7;
  r = rank_trials({e, b});
  EXPECT_FALSE(r.ranked[0].ci.has_value());
  EXPECT_EQ(r.ranked[0].ci_note, "stored predictions are from epoch 7, not the selected epoch 1");
  EXPECT_FALSE(r.ranked[1].paired.has_value());
  EXPECT_EQ(r.ranked[1].paired_note,
            "perfect: stored predictions are from epoch 7, not the selected epoch 1");
  EXPECT_TRUE(contains(r.justification, " No paired test of perfect against noisy: perfect: "
                                        "stored predictions are from epoch 7"))
      << r.justification;

  // Predictions on other images cannot be paired.
  auto f = trial("small", {0.8}, {0.4});
  f.best_val_predictions = predictions(6, 0.9f, 0.1f, 4);
  r = rank_trials({a, f});
  EXPECT_EQ(r.ranked[1].paired_note,
            "small and perfect: the predictions are not on the same images (6 vs 200 images)");

  // No predictions at all.
  r = rank_trials({trial("x", {0.9}, {0.3}), trial("y", {0.8}, {0.3})});
  EXPECT_TRUE(contains(r.justification, "Confidence intervals are unavailable for x and y (no "
                                        "validation predictions were stored)."))
      << r.justification;
  EXPECT_TRUE(contains(r.justification, " No paired test of x against y: x: no validation "
                                        "predictions were stored."))
      << r.justification;
}

// The 6-image example worked by hand in delong_test.cpp: AUC 17/18 vs 13/18, difference 2/9,
// se sqrt(5)/9, p = 0.371093, 95% CI [-0.264735, 0.709179]: not significant.
const std::vector<std::int8_t> kLabels = {1, 0, 1, 0, 1, 0};
const std::vector<float> kA = {0.8f, 0.3f, 0.6f, 0.6f, 0.9f, 0.1f};
const std::vector<float> kB = {0.7f, 0.7f, 0.4f, 0.2f, 0.9f, 0.5f};

TEST(Ranking, NotSignificantlyBetterSentence) {
  auto a = trial("A", {17.0 / 18.0}, {0.4});
  a.best_val_predictions = with_scores(kLabels, kA);
  auto b = trial("B", {13.0 / 18.0}, {0.3});
  b.best_val_predictions = with_scores(kLabels, kB);
  RankingOptions o;
  o.compute_cis = false;
  const auto r = rank_trials({b, a}, o);
  EXPECT_EQ(order({b, a}, r), (std::vector<std::string>{"A", "B"}));
  EXPECT_TRUE(contains(r.justification, "Rule best: the best val AUC wins.")) << r.justification;
  EXPECT_TRUE(contains(r.justification,
                       " A is not significantly better than B in val AUC: AUC difference 0.222 "
                       "[95% CI -0.265 to 0.709], DeLong p = 0.371 (paired, on the same 6 "
                       "validation images)."))
      << r.justification;

  // Ranked by val loss, B wins; the test is still about AUC, and says so.
  o.metric = "val_loss";
  o.goal = Goal::minimize;
  const auto by_loss = rank_trials({b, a}, o);
  EXPECT_EQ(order({b, a}, by_loss), (std::vector<std::string>{"B", "A"}));
  EXPECT_TRUE(contains(by_loss.justification,
                       " B is not significantly worse than A in val AUC: AUC difference -0.222 "
                       "[95% CI -0.709 to 0.265], DeLong p = 0.371"))
      << by_loss.justification;
  EXPECT_TRUE(contains(by_loss.justification,
                       "The paired test compares val AUC, not the ranking metric val loss."))
      << by_loss.justification;

  // A 99% interval with alpha = 0.01: the same p, a wider interval 2/9 -/+ 2.575829 sqrt(5)/9.
  o = RankingOptions{};
  o.compute_cis = false;
  o.selection.alpha = 0.01;
  const auto r99 = rank_trials({b, a}, o);
  EXPECT_TRUE(contains(r99.justification, "[99% CI -0.418 to 0.862], DeLong p = 0.371"))
      << r99.justification;
}

TEST(Ranking, OneSePicksTheLowerLossAmongTheNotSignificantlyWorse) {
  const auto t = one_se_trials();
  RankingOptions o;
  o.compute_cis = false;
  const auto best = rank_trials(t, o);
  EXPECT_EQ(order(t, best), (std::vector<std::string>{"perfect", "close", "noisy"}));
  EXPECT_EQ(best.rule, SelectionRule::best);
  EXPECT_FALSE(best.ranked[1].candidate);  // only one_se marks candidates

  o.selection.rule = SelectionRule::one_se;
  const auto r = rank_trials(t, o);
  EXPECT_EQ(r.rule, SelectionRule::one_se);
  // The chosen trial first, then the others in metric order.
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"close", "perfect", "noisy"}));
  EXPECT_EQ(r.ranked[0].rank, 1);
  EXPECT_EQ(r.ranked[2].rank, 3);
  EXPECT_EQ(r.winner()->index, 2u);
  ASSERT_EQ(r.reference, std::optional<std::size_t>(1));  // perfect stays the reference
  EXPECT_TRUE(r.ranked[0].candidate);
  EXPECT_TRUE(r.ranked[1].candidate);
  EXPECT_FALSE(r.ranked[2].candidate);
  ASSERT_TRUE(r.ranked[0].paired.has_value());
  EXPECT_NEAR(r.ranked[0].paired->se, 0.005, 1e-12);
  EXPECT_NEAR(r.ranked[0].paired->z, -1.0, 1e-9);
  EXPECT_NEAR(r.ranked[0].paired->p_value, std::erfc(1.0 / std::sqrt(2.0)), 1e-12);
  ASSERT_TRUE(r.ranked[2].paired.has_value());
  EXPECT_LT(r.ranked[2].paired->p_value, 0.001);
  EXPECT_TRUE(contains(r.justification, "close is the model of the week: val AUC 0.995"))
      << r.justification;
  EXPECT_TRUE(contains(r.justification,
                       " Rule one_se (alpha 0.05): perfect has the best val AUC (1.000 vs "
                       "0.995), and among the 2 trials whose val AUC is not significantly worse "
                       "than perfect's, close has the lowest val loss at its selected epoch "
                       "(0.200 vs 0.300 for perfect)."))
      << r.justification;
  EXPECT_TRUE(contains(r.justification,
                       " close is not significantly worse than perfect in val AUC: AUC "
                       "difference -0.005 [95% CI -0.015 to 0.005], DeLong p = 0.317"))
      << r.justification;

  // With alpha 0.4 (> p = 0.317) close is significantly worse too: perfect stays.
  o.selection.alpha = 0.4;
  const auto strict = rank_trials(t, o);
  EXPECT_EQ(order(t, strict), (std::vector<std::string>{"perfect", "close", "noisy"}));
  EXPECT_TRUE(contains(strict.justification,
                       " Rule one_se (alpha 0.4): perfect has the best val AUC and no other "
                       "trial's val AUC is within reach"))
      << strict.justification;
}

// close and perfect reach the same val loss (0.30) at their best epoch (epoch 2). The metric
// over the last epochs: perfect 0.9, 1.0 (population std 0.05), close 0.985, 0.995 (0.005).
TEST(Ranking, OneSeTieOnLossGoesToTheSteadierMetric) {
  auto t = one_se_trials();
  t[1] = trial("perfect", {0.9, 1.0}, {0.5, 0.30});
  t[1].best_val_predictions = one_se_trials()[1].best_val_predictions;
  t[2] = trial("close", {0.985, 0.995}, {0.4, 0.30});
  t[2].best_val_predictions = one_se_trials()[2].best_val_predictions;
  RankingOptions o;
  o.compute_cis = false;
  o.selection.rule = SelectionRule::one_se;
  const auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"close", "perfect", "noisy"}));
  EXPECT_NEAR(r.ranked[0].metric_stability, 0.005, 1e-12);
  EXPECT_NEAR(r.ranked[1].metric_stability, 0.05, 1e-12);
  EXPECT_TRUE(contains(r.justification,
                       "close has the same val loss as perfect (0.300) and the steadier val AUC "
                       "over the last 3 epochs (standard deviation 0.005 vs 0.050)."))
      << r.justification;
}

TEST(Ranking, OneSeLeavesOutTrialsWithoutAPairedTest) {
  auto t = one_se_trials();
  t[2].best_val_predictions = {};  // close: no predictions, so no test
  RankingOptions o;
  o.compute_cis = false;
  o.selection.rule = SelectionRule::one_se;
  const auto r = rank_trials(t, o);
  EXPECT_EQ(order(t, r), (std::vector<std::string>{"perfect", "close", "noisy"}));
  EXPECT_FALSE(r.ranked[1].candidate);
  EXPECT_TRUE(contains(r.justification,
                       " Not considered because the paired test is unavailable: close."))
      << r.justification;
}

TEST(Ranking, OneSeWithOneTrialFallsBackToBest) {
  RankingOptions o;
  o.compute_cis = false;
  o.selection.rule = SelectionRule::one_se;
  const auto r = rank_trials({trial("only", {0.8}, {0.4}),
                              trial("broken", {0.9}, {0.1}, TrialStatus::failed)},
                             o);
  EXPECT_EQ(r.requested_rule, SelectionRule::one_se);
  EXPECT_EQ(r.rule, SelectionRule::best);
  EXPECT_EQ(r.winner()->index, 0u);
  EXPECT_TRUE(contains(r.justification, "Rule one_se needs at least two ranked trials to "
                                        "compare, so rule best applied: it is the only ranked "
                                        "trial."))
      << r.justification;
}

TEST(Ranking, SelectionAlphaMustBeBelowOneHalf) {
  RankingOptions o;
  o.selection.alpha = 0.5;
  EXPECT_THROW(rank_trials({}, o), std::invalid_argument);
  o.selection.alpha = 0.0;
  EXPECT_THROW(rank_trials({}, o), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::results
