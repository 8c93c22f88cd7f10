#include "results/ranking.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace mammosweep::results {
namespace {

TrialResult trial(std::string name, std::vector<double> auc, std::vector<double> loss,
                  TrialStatus status = TrialStatus::done) {
  TrialResult t;
  t.id = "id-" + name;
  t.name = std::move(name);
  t.status = status;
  for (std::size_t i = 0; i < auc.size(); ++i) {
    EpochRecord e;
    e.epoch = static_cast<int>(i + 1);
    e.val.auc = auc[i];
    e.val.loss = loss[i];
    e.val.accuracy = 0.5;
    e.val.recall = 0.5;
    e.val.specificity = 0.5;
    t.epochs.push_back(e);
  }
  return t;
}

std::vector<std::string> order(const std::vector<TrialResult>& trials, const Ranking& r) {
  std::vector<std::string> names;
  for (const auto& rt : r.ranked) names.push_back(trials[rt.index].name);
  return names;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `n` predictions: positives score `pos`, negatives `neg`, except that every `flip`-th sample
// gets the other class's score (0 = never).
Predictions predictions(int n, float pos, float neg, int flip) {
  Predictions p;
  for (int i = 0; i < n; ++i) {
    const std::int8_t y = i % 2;
    const bool flipped = flip > 0 && i % flip == 0;
    p.labels.push_back(y);
    p.scores.push_back((y == 1) != flipped ? pos : neg);
  }
  return p;
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

// Winner: 200 perfectly separated predictions -> AUC CI [1, 1].
// Runner-up: every 4th prediction gets the other class's score -> AUC 0.75 at most, its CI
// stays far below 1, so the intervals cannot overlap.
TEST(Ranking, ConfidenceIntervalsDecideTheSignificanceSentence) {
  auto a = trial("perfect", {1.0}, {0.1});
  a.best_epoch = 1;
  a.best_val_predictions = predictions(200, 0.9f, 0.1f, 0);
  auto b = trial("noisy", {0.75}, {0.5});
  b.best_val_predictions = predictions(200, 0.9f, 0.1f, 4);
  auto r = rank_trials({a, b});
  ASSERT_TRUE(r.ranked[0].ci.has_value());
  EXPECT_DOUBLE_EQ(r.ranked[0].ci->auc.lo, 1.0);
  ASSERT_TRUE(r.top_two_ci_overlap.has_value());
  EXPECT_FALSE(*r.top_two_ci_overlap);
  EXPECT_TRUE(contains(r.justification, "val AUC 1.000 [95% CI 1.000-1.000] at epoch 1 of 1"))
      << r.justification;
  EXPECT_TRUE(contains(r.justification, "do not overlap")) << r.justification;
  EXPECT_FALSE(contains(r.justification, "not significantly better")) << r.justification;

  // Two equally noisy classifiers: the intervals overlap.
  auto c = trial("noisy too", {0.74}, {0.5});
  c.best_val_predictions = predictions(200, 0.9f, 0.1f, 4);
  r = rank_trials({b, c});
  ASSERT_TRUE(r.top_two_ci_overlap.has_value());
  EXPECT_TRUE(*r.top_two_ci_overlap);
  EXPECT_TRUE(contains(r.justification, "The winner is not significantly better than noisy "
                                        "too: their 95% confidence intervals overlap."))
      << r.justification;

  // Predictions of another epoch are not used.
  auto d = a;
  d.best_epoch = 7;
  r = rank_trials({d, b});
  EXPECT_FALSE(r.ranked[0].ci.has_value());
  EXPECT_EQ(r.ranked[0].ci_note, "stored predictions are from epoch 7, not the selected epoch 1");
  EXPECT_FALSE(r.top_two_ci_overlap.has_value());

  // No predictions at all.
  r = rank_trials({trial("x", {0.9}, {0.3}), trial("y", {0.8}, {0.3})});
  EXPECT_TRUE(contains(r.justification, "Confidence intervals are unavailable for x and y (no "
                                        "validation predictions were stored)."))
      << r.justification;
}

}  // namespace
}  // namespace mammosweep::results
