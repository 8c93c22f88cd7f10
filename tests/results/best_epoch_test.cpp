// The one best-epoch rule (results/best_epoch.h): metric, then lower val loss, then the
// earlier epoch; NaN loses. Checked against a brute force written here from the rule's text.
#include "results/best_epoch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace mammosweep::results {
namespace {

EpochRecord rec(int epoch, double accuracy, double loss) {
  EpochRecord r;
  r.epoch = epoch;
  r.val.accuracy = accuracy;
  r.val.loss = loss;
  return r;
}

// Brute force: the epoch i such that no other epoch j is "better" by the rule's words.
int brute_force_best(const std::vector<EpochRecord>& es, bool maximize) {
  auto key_better = [&](double a, double b, bool max) {  // a strictly better than b; NaN worst
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
    return max ? a > b : a < b;
  };
  for (std::size_t i = 0; i < es.size(); ++i) {
    bool beaten = false;
    for (std::size_t j = 0; j < es.size() && !beaten; ++j) {
      if (j == i) continue;
      const double mi = es[i].val.accuracy, mj = es[j].val.accuracy;
      const bool metric_tie = (std::isnan(mi) && std::isnan(mj)) || mi == mj;
      if (key_better(mj, mi, maximize)) beaten = true;
      else if (metric_tie) {
        const double li = es[i].val.loss, lj = es[j].val.loss;
        const bool loss_tie = (std::isnan(li) && std::isnan(lj)) || li == lj;
        if (key_better(lj, li, false)) beaten = true;
        else if (loss_tie && j < i) beaten = true;  // the earlier epoch stays
      }
    }
    if (!beaten) return es[i].epoch;
  }
  return -1;
}

TEST(BestEpoch, MetricTieGoesToTheLowerValLossThenToTheEarlierEpoch) {
  const std::vector<EpochRecord> es = {rec(1, 0.75, 0.6), rec(2, 0.75, 0.4), rec(3, 0.5, 0.3),
                                       rec(4, 0.75, 0.4)};
  EXPECT_EQ(es[best_epoch_index(es, "val_accuracy", Goal::maximize)].epoch, 2);
  BestEpoch online("val_accuracy", Goal::maximize);
  std::vector<bool> became;
  for (const auto& e : es) became.push_back(online.offer(e));
  EXPECT_EQ(became, (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(online.epoch(), 2);
  EXPECT_DOUBLE_EQ(online.metric(), 0.75);
  EXPECT_DOUBLE_EQ(online.val_loss(), 0.4);
  // Minimizing the loss itself: epoch 3.
  EXPECT_EQ(es[best_epoch_index(es, "val_loss", Goal::minimize)].epoch, 3);
}

TEST(BestEpoch, NanLosesAndTheFirstEpochIsBestUntilBeaten) {
  const double nan = std::nan("");
  const std::vector<EpochRecord> es = {rec(1, nan, 0.5), rec(2, 0.6, nan), rec(3, 0.6, 0.9)};
  BestEpoch online("val_accuracy", Goal::maximize);
  EXPECT_TRUE(online.offer(es[0]));  // the first epoch is the best so far, even when NaN
  EXPECT_TRUE(online.offer(es[1]));  // a number beats NaN
  EXPECT_TRUE(online.offer(es[2]));  // same metric, a loss beats a NaN loss
  EXPECT_EQ(es[best_epoch_index(es, "val_accuracy", Goal::maximize)].epoch, 3);
  EXPECT_THROW(best_epoch_index(es, "val_bogus", Goal::maximize), std::invalid_argument);
}

TEST(BestEpoch, RestoreContinuesAsIfUninterrupted) {
  const std::vector<EpochRecord> es = {rec(1, 0.5, 0.6), rec(2, 0.75, 0.5), rec(3, 0.75, 0.45)};
  BestEpoch whole("val_accuracy", Goal::maximize);
  for (const auto& e : es) whole.offer(e);
  BestEpoch resumed("val_accuracy", Goal::maximize);
  resumed.restore(2, 0.75, 0.5);  // what the checkpoint of epoch 2 carries
  EXPECT_TRUE(resumed.offer(es[2]));
  EXPECT_EQ(resumed.epoch(), whole.epoch());
}

// Online (the trainer, the coordinator) and offline (ranking) agree with the brute force on
// random histories full of ties, for both goals.
TEST(BestEpoch, OnlineOfflineAndBruteForceAgreeOnRandomHistoriesWithTies) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> level(0, 3), len(1, 8);
  for (int round = 0; round < 2000; ++round) {
    std::vector<EpochRecord> es;
    const int n = len(rng);
    for (int e = 1; e <= n; ++e) {
      const int a = level(rng), l = level(rng);
      es.push_back(rec(e, a == 3 ? std::nan("") : 0.25 * a, l == 3 ? std::nan("") : 0.1 * l));
    }
    for (bool maximize : {true, false}) {
      const Goal goal = maximize ? Goal::maximize : Goal::minimize;
      const int want = brute_force_best(es, maximize);
      BestEpoch online("val_accuracy", goal);
      for (const auto& e : es) online.offer(e);
      ASSERT_EQ(online.epoch(), want) << "round " << round;
      ASSERT_EQ(es[best_epoch_index(es, "val_accuracy", goal)].epoch, want) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace mammosweep::results
