// The checkpoint retention rule (results/retention.h) on hand-built trial tables: top-K by
// the metric order, keep modes, ties, failed/running/queued trials, one_se's winner and
// candidates, and the safety property (a trial pruned while others still run is never among
// the top K or the model of the week once they finish), checked by simulation.
#include "results/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "results/trial_builders.h"

namespace mammosweep::results {
namespace {

using Keep = sweeps::CheckpointPolicy::Keep;
using testing::trial;

sweeps::CheckpointPolicy policy(std::optional<int> k, Keep keep = Keep::best) {
  sweeps::CheckpointPolicy p;
  p.keep_top_trials = k;
  p.keep = keep;
  return p;
}

/// name -> (what, epochs) for compact expectations.
std::map<std::string, std::pair<Retain, std::vector<int>>> by_name(
    const std::vector<TrialResult>& t, const std::vector<TrialRetention>& r) {
  std::map<std::string, std::pair<Retain, std::vector<int>>> out;
  for (const auto& x : r) out[t[x.index].name] = {x.retain, x.epochs};
  return out;
}

TEST(Retention, TopKByMetricKeepTheirBestEpochOthersNothing) {
  // Best epochs: a 2 (0.9), b 1 (0.8), c 3 (0.7), d 1 (0.6).
  const std::vector<TrialResult> t = {
      trial("c", {0.5, 0.6, 0.7}, {0.5, 0.5, 0.5}), trial("a", {0.8, 0.9, 0.85}, {0.5, 0.5, 0.5}),
      trial("d", {0.6, 0.55}, {0.5, 0.5}, TrialStatus::stopped_early),
      trial("b", {0.8, 0.7, 0.75}, {0.5, 0.5, 0.5})};
  const auto r = by_name(t, decide_retention(t, {}, policy(2)));
  EXPECT_EQ(r.at("a"), std::make_pair(Retain::weights, std::vector<int>{2}));
  EXPECT_EQ(r.at("b"), std::make_pair(Retain::weights, std::vector<int>{1}));
  EXPECT_EQ(r.at("c"), std::make_pair(Retain::nothing, std::vector<int>{}));
  EXPECT_EQ(r.at("d"), std::make_pair(Retain::nothing, std::vector<int>{}));
}

TEST(Retention, KeepModes) {
  const std::vector<TrialResult> t = {trial("a", {0.9, 0.8, 0.7}, {0.5, 0.5, 0.5}),
                                      trial("b", {0.1, 0.2, 0.3}, {0.5, 0.5, 0.5})};
  auto r = by_name(t, decide_retention(t, {}, policy(2, Keep::last)));
  EXPECT_EQ(r.at("a").second, std::vector<int>{3});
  r = by_name(t, decide_retention(t, {}, policy(2, Keep::best_and_last)));
  EXPECT_EQ(r.at("a").second, (std::vector<int>{1, 3}));
  EXPECT_EQ(r.at("b").second, std::vector<int>{3});  // best == last: one epoch
  r = by_name(t, decide_retention(t, {}, policy(2, Keep::best)));
  EXPECT_EQ(r.at("a").second, std::vector<int>{1});
}

TEST(Retention, AllKeepsEveryRankedTrial) {
  const std::vector<TrialResult> t = {trial("a", {0.9}, {0.5}), trial("b", {0.1}, {0.5}),
                                      trial("f", {0.95}, {0.5}, TrialStatus::failed)};
  const auto r = by_name(t, decide_retention(t, {}, policy(std::nullopt)));
  EXPECT_EQ(r.at("a").first, Retain::weights);
  EXPECT_EQ(r.at("b").first, Retain::weights);
  EXPECT_EQ(r.at("f").first, Retain::nothing);  // failed: never ranked, needs nothing
}

TEST(Retention, RunningPendingAndActiveTrialsAreUntouched) {
  const std::vector<TrialResult> t = {
      trial("a", {0.9}, {0.5}), trial("b", {0.8}, {0.5}),
      trial("run", {0.1}, {0.5}, TrialStatus::running),
      trial("pend", {}, {}, TrialStatus::pending),
      trial("retry", {0.2}, {0.5}, TrialStatus::failed)};
  const auto r = by_name(t, decide_retention(t, {}, policy(1), {"id-retry"}));
  EXPECT_EQ(r.at("a").first, Retain::weights);
  EXPECT_EQ(r.at("b").first, Retain::nothing);
  EXPECT_EQ(r.at("run").first, Retain::everything);
  EXPECT_EQ(r.at("pend").first, Retain::everything);
  EXPECT_EQ(r.at("retry").first, Retain::everything);  // queued for a retry in this run
}

TEST(Retention, TiesFollowTheRankingOrder) {
  // Same AUC and loss; one epoch each (no stability): the name breaks the tie.
  const std::vector<TrialResult> t = {trial("beta", {0.9}, {0.3}), trial("alpha", {0.9}, {0.3})};
  auto r = by_name(t, decide_retention(t, {}, policy(1)));
  EXPECT_EQ(r.at("alpha").first, Retain::weights);
  EXPECT_EQ(r.at("beta").first, Retain::nothing);
  // Same AUC: the lower val loss wins.
  const std::vector<TrialResult> u = {trial("alpha", {0.9}, {0.4}), trial("beta", {0.9}, {0.3})};
  r = by_name(u, decide_retention(u, {}, policy(1)));
  EXPECT_EQ(r.at("beta").first, Retain::weights);
  EXPECT_EQ(r.at("alpha").first, Retain::nothing);
}

TEST(Retention, ARunningTrialDoesNotProtectTrialsAlreadyBeatenKTimes) {
  // K = 1: "a" is first among the finished. "b" is beaten by one finished trial: whatever
  // "run" reaches, b can never be first again, so it goes now; a stays until "run" beats it.
  std::vector<TrialResult> t = {trial("a", {0.8}, {0.5}), trial("b", {0.7}, {0.5}),
                                trial("run", {0.1}, {0.5}, TrialStatus::running)};
  auto r = by_name(t, decide_retention(t, {}, policy(1)));
  EXPECT_EQ(r.at("a").first, Retain::weights);
  EXPECT_EQ(r.at("b").first, Retain::nothing);
  EXPECT_EQ(r.at("run").first, Retain::everything);
  t[2].epochs[0].val.auc = 0.95;  // it overtakes and finishes
  t[2].status = TrialStatus::done;
  r = by_name(t, decide_retention(t, {}, policy(1)));
  EXPECT_EQ(r.at("run").first, Retain::weights);
  EXPECT_EQ(r.at("a").first, Retain::nothing);
}

TEST(Retention, OneSeKeepsItsWinnerAndCandidatesOutsideTheMetricTopK) {
  // trial_builders.h's one_se table: perfect (AUC 1.0, loss 0.3) is the reference; close
  // (0.995, loss 0.2) is not significantly worse and wins; noisy (0.75) is significantly worse.
  const std::vector<TrialResult> t = testing::one_se_trials();
  RankingOptions o;
  o.selection.rule = SelectionRule::one_se;
  auto r = by_name(t, decide_retention(t, o, policy(1)));
  EXPECT_EQ(r.at("perfect").first, Retain::weights);  // first in the metric order
  EXPECT_EQ(r.at("close").first, Retain::weights);    // the model of the week
  EXPECT_EQ(r.at("noisy").first, Retain::nothing);
  // Under `best` close is second by the metric: K = 1 prunes it.
  r = by_name(t, decide_retention(t, {}, policy(1)));
  EXPECT_EQ(r.at("close").first, Retain::nothing);
}

// The safety property, by simulation: trials finish one at a time in random order with random
// metrics (ties included); after every finish the rule runs with the unfinished trials still
// running. A trial it ever prunes must not be among the top K of the final ranking.
TEST(Retention, APrunedTrialNeverReturnsToTheTopK) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const int n = 2 + static_cast<int>(rng() % 12);
    const int k = 1 + static_cast<int>(rng() % 4);
    std::vector<TrialResult> all;
    for (int i = 0; i < n; ++i) {
      std::vector<double> auc, loss;
      const int epochs = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < epochs; ++e) {
        auc.push_back(static_cast<double>(rng() % 5) / 5.0);  // coarse: ties are common
        loss.push_back(static_cast<double>(rng() % 3) / 3.0);
      }
      all.push_back(trial("t" + std::to_string(i), auc, loss, TrialStatus::running));
    }
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> pruned(n, false);
    for (int i : order) {
      all[i].status = rng() % 7 == 0 ? TrialStatus::failed : TrialStatus::done;
      for (const auto& d : decide_retention(all, {}, policy(k))) {
        if (d.retain == Retain::nothing) pruned[d.index] = true;
        if (d.retain == Retain::everything) {
          ASSERT_EQ(all[d.index].status, TrialStatus::running);
        }
      }
    }
    RankingOptions o;
    o.compute_cis = false;
    const Ranking final_ranking = rank_trials(all, o);
    for (const auto& rt : final_ranking.ranked) {
      if (rt.rank <= k) {
        EXPECT_FALSE(pruned[rt.index]) << "round " << round << ": " << all[rt.index].name
                                       << " was pruned but ends at rank " << rt.rank;
      } else {
        EXPECT_TRUE(pruned[rt.index]) << "round " << round << ": rank " << rt.rank << " > K "
                                      << k << " still holds weights at the end";
      }
    }
  }
}

}  // namespace
}  // namespace mammosweep::results
