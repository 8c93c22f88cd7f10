// Early-stopping policies against hand-scripted metric streams. Every expected decision is
// worked out by hand in the comment beside it (metric values are small integers or halves so
// that every mean and median is exact in binary floating point).
#include "orchestrator/policy.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mammosweep::orchestrator {
namespace {

constexpr Decision P = Decision::proceed;
constexpr Decision S = Decision::stop;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Report {
  std::string trial;
  int epoch;
  double value;
};

std::vector<Decision> feed(SchedulingPolicy& policy, const std::vector<Report>& reports) {
  std::vector<Decision> out;
  for (const Report& r : reports) out.push_back(policy.on_epoch(r.trial, r.epoch, r.value));
  return out;
}

// Reports epochs 1..values.size() of one trial.
std::vector<Report> trial(const std::string& id, const std::vector<double>& values) {
  std::vector<Report> out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out.push_back({id, static_cast<int>(i) + 1, values[i]});
  }
  return out;
}

std::vector<Report> concat(std::vector<std::vector<Report>> parts) {
  std::vector<Report> out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string decisions(const std::vector<Decision>& ds) {  // "PPS..." for readable failures
  std::string s;
  for (Decision d : ds) s += d == Decision::stop ? 'S' : 'P';
  return s;
}

// ---------------------------------------------------------------- factory and helpers

TEST(MakePolicy, BuildsEachNamedPolicy) {
  sweeps::EarlyStopping es;
  EXPECT_EQ(make_policy(es, sweeps::Goal::maximize, 10)->name(), "fifo");  // the default
  es.policy = "median";
  EXPECT_EQ(make_policy(es, sweeps::Goal::maximize, 10)->name(), "median");
  es.policy = "asha";
  EXPECT_EQ(make_policy(es, sweeps::Goal::minimize, 10)->name(), "asha");
}

TEST(MakePolicy, RejectsBadSettingsNamingKeyAndValue) {
  sweeps::EarlyStopping es;
  es.policy = "hyperband";
  EXPECT_THAT([&] { make_policy(es, sweeps::Goal::maximize, 10); },
              testing::ThrowsMessage<std::invalid_argument>(
                  testing::AllOf(testing::HasSubstr("early_stopping.policy"),
                                 testing::HasSubstr("'hyperband'"))));
  es.policy = "asha";
  es.reduction_factor = 1;
  EXPECT_THAT([&] { make_policy(es, sweeps::Goal::maximize, 10); },
              testing::ThrowsMessage<std::invalid_argument>(
                  testing::HasSubstr("early_stopping.reduction_factor")));
  es.reduction_factor = 3;
  EXPECT_THROW(make_policy(es, sweeps::Goal::maximize, 0), std::invalid_argument);
  es.policy = "median";
  es.min_trials = 0;
  EXPECT_THAT([&] { make_policy(es, sweeps::Goal::maximize, 10); },
              testing::ThrowsMessage<std::invalid_argument>(
                  testing::HasSubstr("early_stopping.min_trials")));
  es.min_trials = 3;
  es.grace_epochs = -1;
  EXPECT_THAT([&] { make_policy(es, sweeps::Goal::maximize, 10); },
              testing::ThrowsMessage<std::invalid_argument>(
                  testing::HasSubstr("early_stopping.grace_epochs")));
}

TEST(MakePolicy, FactoryPassesGoalAndSettingsThrough) {
  // asha, minimize, grace 2, eta 2, max 10 -> rungs {2, 4, 8}; epoch 1 is no rung.
  //   a 0, 5    epoch 2: first                                  P P
  //   b 9, 7    epoch 2: n2 keep 1, better 1 (5)                P S
  //   c 0, 6    epoch 2: n3 keep floor(3/2) = 1, better 1 (5)   P S
  //   d 0, 5.5  epoch 2: n4 keep 2, better 1 (5)                P P
  // (grace 1 would stop b at epoch 1; eta 3 would stop d; maximize would let b through.)
  sweeps::EarlyStopping es;
  es.policy = "asha";
  es.grace_epochs = 2;
  es.reduction_factor = 2;
  auto policy = make_policy(es, sweeps::Goal::minimize, /*max_epochs=*/10);
  auto got = feed(*policy, concat({trial("a", {0, 5}), trial("b", {9, 7}), trial("c", {0, 6}),
                                   trial("d", {0, 5.5})}));
  EXPECT_EQ(decisions(got), "PPPSPSPP");
}

TEST(EarlyStoppingMetric, DefaultsToSweepMetricAndItsGoal) {
  sweeps::SweepSpec spec;
  spec.metric = {"val_auc", sweeps::Goal::maximize};
  EXPECT_EQ(early_stopping_metric(spec), "val_auc");
  EXPECT_EQ(early_stopping_goal(spec), sweeps::Goal::maximize);
  spec.metric = {"val_loss", sweeps::Goal::minimize};
  EXPECT_EQ(early_stopping_goal(spec), sweeps::Goal::minimize);
  // A separate early-stopping metric has its own natural goal.
  spec.metric = {"val_auc", sweeps::Goal::maximize};
  spec.early_stopping.metric = "val_loss";
  EXPECT_EQ(early_stopping_metric(spec), "val_loss");
  EXPECT_EQ(early_stopping_goal(spec), sweeps::Goal::minimize);
  spec.metric = {"val_loss", sweeps::Goal::minimize};
  spec.early_stopping.metric = "val_f1";
  EXPECT_EQ(early_stopping_goal(spec), sweeps::Goal::maximize);
}

TEST(Decision, ToString) {
  EXPECT_STREQ(to_string(Decision::proceed), "proceed");
  EXPECT_STREQ(to_string(Decision::stop), "stop");
}

// ---------------------------------------------------------------- epoch order (all policies)

class EveryPolicy : public testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<SchedulingPolicy> make() {
    sweeps::EarlyStopping es;
    es.policy = GetParam();
    return make_policy(es, sweeps::Goal::maximize, 27);
  }
};

TEST_P(EveryPolicy, RejectsEpochsOutOfOrderNamingTrialAndEpochs) {
  auto policy = make();
  EXPECT_THAT([&] { policy->on_epoch("t7", 2, 0.5); },  // must start at 1
              testing::ThrowsMessage<std::invalid_argument>(testing::AllOf(
                  testing::HasSubstr("'t7'"), testing::HasSubstr("epoch 2"),
                  testing::HasSubstr("1..1"))));
  EXPECT_THROW(policy->on_epoch("t7", 0, 0.5), std::invalid_argument);
  policy->on_epoch("t7", 1, 0.5);
  policy->on_epoch("t7", 2, 0.5);
  EXPECT_THROW(policy->on_epoch("t7", 4, 0.5), std::invalid_argument);  // skips 3
  EXPECT_NO_THROW(policy->on_epoch("t7", 3, 0.5));
  // A restart from an earlier checkpoint re-reports an epoch: accepted.
  EXPECT_NO_THROW(policy->on_epoch("t7", 2, 0.5));
  EXPECT_THROW(policy->on_epoch("t7", 4, 0.5), std::invalid_argument);  // history is now 1..2
}

INSTANTIATE_TEST_SUITE_P(Policies, EveryPolicy, testing::Values("fifo", "median", "asha"));

// ---------------------------------------------------------------- FIFO

TEST(Fifo, NeverStops) {
  auto policy = make_fifo_policy();
  // Ten trials, five epochs each, interleaved; the worst values imaginable, NaN included.
  std::vector<Report> reports;
  for (int e = 1; e <= 5; ++e) {
    for (int t = 0; t < 10; ++t) {
      double v = t == 9 ? kNaN : (t == 0 ? 100.0 : -1000.0 * e);
      reports.push_back({"t" + std::to_string(t), e, v});
    }
  }
  for (Decision d : feed(*policy, reports)) EXPECT_EQ(d, Decision::proceed);
  EXPECT_EQ(policy->name(), "fifo");
}

// ---------------------------------------------------------------- median stopping rule

MedianStoppingOptions median_options(bool maximize, int grace, int min_trials) {
  MedianStoppingOptions o;
  o.goal = maximize ? sweeps::Goal::maximize : sweeps::Goal::minimize;
  o.grace_epochs = grace;
  o.min_trials = min_trials;
  return o;
}

TEST(Median, ClearlyWorseTrialStopsAtFirstEligibleEpochNotBeforeGrace) {
  auto policy = make_median_policy(median_options(true, /*grace=*/3, /*min_trials=*/3));
  // a, b, c run three epochs each, one after another: when each reports, fewer than 3
  // other trials have reached that epoch (a sees 0, b sees 1, c sees 2) -> all proceed.
  auto head = feed(*policy, concat({trial("a", {8, 8, 8}), trial("b", {7, 7, 7}),
                                    trial("c", {9, 9, 9})}));
  EXPECT_EQ(decisions(head), "PPPPPPPPP");
  // d is far worse. Epochs 1 and 2 are before grace 3: proceed. Epoch 3: others at 3 epochs
  // are a, b, c with running means 8, 7, 9 -> median 8; d's best 1 < 8 -> stop.
  auto d = feed(*policy, trial("d", {0, 1, 0}));
  EXPECT_EQ(decisions(d), "PPS");
}

TEST(Median, WaitsForMinTrialsOthersAtThatEpoch) {
  auto policy = make_median_policy(median_options(true, /*grace=*/2, /*min_trials=*/3));
  // a and b run 2 epochs, c only 1 (a and b see fewer than 3 others at epoch 2: proceed).
  EXPECT_EQ(decisions(feed(*policy, concat({trial("a", {8, 8}), trial("b", {7, 7}),
                                            trial("c", {9})}))),
            "PPPPP");
  // e is the worst, but at epoch 2 only a and b have 2 epochs: 2 < min_trials 3 -> proceed.
  EXPECT_EQ(decisions(feed(*policy, trial("e", {0, 0}))), "PP");
  // c reaches epoch 2: others a 8, b 7, e 0 -> median 7; c's best 9 -> proceed.
  EXPECT_EQ(policy->on_epoch("c", 2, 9), P);
  // f, as bad as e, now has a, b, c, e at 2 epochs: means 8, 7, 9, 0 -> median 7.5; best 0
  // -> stop at epoch 2.
  EXPECT_EQ(decisions(feed(*policy, trial("f", {0, 0}))), "PS");
}

TEST(Median, BestSoFarAgainstMedianOfRunningMeansTiesProceed) {
  auto policy = make_median_policy(median_options(true, /*grace=*/2, /*min_trials=*/3));
  // Running means at epoch 2: a (5+9)/2 = 7, b (6+8)/2 = 7, c 7. Their epoch-2 values have
  // median 8, their epoch-1 values median 6: only the running mean gives 7.
  feed(*policy, concat({trial("a", {5, 9}), trial("b", {6, 8}), trial("c", {7, 7})}));
  // d: best 7.5 > 7 -> proceed (comparing with the last values' median 8 would stop it).
  EXPECT_EQ(decisions(feed(*policy, trial("d", {7.5, 7.5}))), "PP");
  // e: its best (epoch 1, 7) counts, not its current 6; others a, b, c, d have means
  // 7, 7, 7, 7.5 -> median 7; 7 is not strictly worse -> proceed.
  EXPECT_EQ(decisions(feed(*policy, trial("e", {7, 6}))), "PP");
  // f: means a 7, b 7, c 7, d 7.5, e 6.5 -> median 7; best 6.5 < 7 -> stop at epoch 2.
  EXPECT_EQ(decisions(feed(*policy, trial("f", {6, 6.5}))), "PS");
}

TEST(Median, EvenCountTakesMeanOfMiddleTwo) {
  auto policy = make_median_policy(median_options(true, /*grace=*/1, /*min_trials=*/4));
  feed(*policy, concat({trial("a", {1}), trial("b", {2}), trial("c", {3}), trial("d", {4})}));
  // Others a..d: means 1, 2, 3, 4 -> median 2.5.
  EXPECT_EQ(policy->on_epoch("x", 1, 2.25), S);  // 2.25 < 2.5
  // For y the others are a..d and x: 1, 2, 2.25, 3, 4 -> median 2.25; 2.5 -> proceed.
  EXPECT_EQ(policy->on_epoch("y", 1, 2.5), P);
}

TEST(Median, MinimizeMirrors) {
  auto policy = make_median_policy(median_options(false, /*grace=*/2, /*min_trials=*/3));
  // Losses. Running means at epoch 2: a 3, b 2, c 4 -> median 3.
  feed(*policy, concat({trial("a", {3, 3}), trial("b", {2, 2}), trial("c", {4, 4})}));
  // d: best (lowest) 9 > 3 -> stop at epoch 2 (grace 2).
  EXPECT_EQ(decisions(feed(*policy, trial("d", {9, 9}))), "PS");
  // e: best 3 (epoch 1); others a, b, c, d: means 3, 2, 4, 9 -> median 3.5; 3 < 3.5 -> proceed
  // even though its current 5 is worse.
  EXPECT_EQ(decisions(feed(*policy, trial("e", {3, 5}))), "PP");

  // The same stream with maximize: d's 9 is the best, e's best 5 >= median 3.5 of 3, 2, 4, 9.
  auto up = make_median_policy(median_options(true, 2, 3));
  feed(*up, concat({trial("a", {3, 3}), trial("b", {2, 2}), trial("c", {4, 4})}));
  EXPECT_EQ(decisions(feed(*up, trial("d", {9, 9}))), "PP");
  EXPECT_EQ(decisions(feed(*up, trial("e", {3, 5}))), "PP");
}

TEST(Median, NaNIsWorst) {
  auto policy = make_median_policy(median_options(true, /*grace=*/1, /*min_trials=*/3));
  feed(*policy, concat({trial("a", {1}), trial("b", {2}), trial("c", {3})}));
  // A NaN trial: best = -inf < median 2 -> stop.
  EXPECT_EQ(policy->on_epoch("n", 1, kNaN), S);
  // n's mean is -inf, so for x the others are -inf, 1, 2, 3 -> median 1.5; 1.25 -> stop.
  EXPECT_EQ(policy->on_epoch("x", 1, 1.25), S);
  // y: others -inf, 1, 1.25, 2, 3 -> median 1.25; 1.5 -> proceed.
  EXPECT_EQ(policy->on_epoch("y", 1, 1.5), P);
  // Minimize: NaN is +inf, still the worst.
  auto down = make_median_policy(median_options(false, 1, 3));
  feed(*down, concat({trial("a", {1}), trial("b", {2}), trial("c", {3})}));
  EXPECT_EQ(down->on_epoch("n", 1, kNaN), S);
  EXPECT_EQ(down->on_epoch("m", 1, 1.5), P);  // others 1, 2, 3, +inf -> median 2.5
}

// ---------------------------------------------------------------- ASHA

AshaOptions asha_options(bool maximize, int grace, double eta, int max_epochs) {
  AshaOptions o;
  o.goal = maximize ? sweeps::Goal::maximize : sweeps::Goal::minimize;
  o.grace_epochs = grace;
  o.reduction_factor = eta;
  o.max_epochs = max_epochs;
  return o;
}

TEST(AshaRungs, GeometricFromGraceBelowMaxEpochs) {
  using testing::ElementsAre;
  // 1, 3, 9; 27 = max_epochs is no rung (the trial ends there anyway).
  EXPECT_THAT(asha_rungs(1, 3, 27), ElementsAre(1, 3, 9));
  EXPECT_THAT(asha_rungs(1, 3, 28), ElementsAre(1, 3, 9, 27));
  EXPECT_THAT(asha_rungs(2, 2, 20), ElementsAre(2, 4, 8, 16));
  // eta 2.5: 1, 2.5, 6.25, 15.625 -> ceil: 1, 3, 7, 16.
  EXPECT_THAT(asha_rungs(1, 2.5, 20), ElementsAre(1, 3, 7, 16));
  // eta 1.5: 1, 1.5, 2.25, 3.375, 5.06 -> 1, 2, 3, 4, 6 (below 7).
  EXPECT_THAT(asha_rungs(1, 1.5, 7), ElementsAre(1, 2, 3, 4, 6));
  EXPECT_THAT(asha_rungs(0, 3, 10), ElementsAre(1, 3, 9));  // grace 0 acts as 1
  EXPECT_THAT(asha_rungs(1, 3, 1), ElementsAre());          // one epoch: nothing to decide
  EXPECT_THROW(asha_rungs(1, 1, 10), std::invalid_argument);
}

TEST(Asha, NineTrialsKeepTopThirdAtEachRungAsynchronously) {
  auto policy = make_asha_policy(asha_options(true, 1, 3, 27));  // rungs 1, 3, 9
  // Rung 1 (epoch 1), trials in arrival order. keep = max(1, floor(n / 3)) with n counting
  // the newcomer; it proceeds iff fewer than keep recorded values are strictly better.
  //   t1 5   n1 keep1 better0            P
  //   t2 3   n2 keep1 better1 (5)        S
  //   t3 7   n3 keep1 better0            P
  //   t4 6   n4 keep1 better1 (7)        S
  //   t5 8   n5 keep1 better0            P
  //   t6 2   n6 keep2 better5            S
  //   t7 7.5 n7 keep2 better1 (8)        P
  //   t8 9   n8 keep2 better0            P
  //   t9 1   n9 keep3 better8            S
  std::vector<Report> rung1 = {{"t1", 1, 5}, {"t2", 1, 3},   {"t3", 1, 7},
                               {"t4", 1, 6}, {"t5", 1, 8},   {"t6", 1, 2},
                               {"t7", 1, 7.5}, {"t8", 1, 9}, {"t9", 1, 1}};
  EXPECT_EQ(decisions(feed(*policy, rung1)), "PSPSPSPPS");
  // t1 (5) survives although the final top third at rung 1 is 9, 8, 7.5: decisions are never
  // revisited. Epoch 2 is no rung: survivors proceed whatever they report.
  std::vector<Report> epoch2 = {{"t1", 2, -100}, {"t3", 2, -100}, {"t5", 2, -100},
                                {"t7", 2, kNaN}, {"t8", 2, -100}};
  EXPECT_EQ(decisions(feed(*policy, epoch2)), "PPPPP");
  // Rung 3:
  //   t1 4  n1 keep1 better0             P
  //   t3 6  n2 keep1 better0             P
  //   t5 9  n3 keep1 better0             P
  //   t7 5  n4 keep1 better2 (6, 9)      S
  //   t8 8  n5 keep1 better1 (9)         S
  std::vector<Report> rung3 = {{"t1", 3, 4}, {"t3", 3, 6}, {"t5", 3, 9}, {"t7", 3, 5},
                               {"t8", 3, 8}};
  EXPECT_EQ(decisions(feed(*policy, rung3)), "PPPSS");
  // Epochs 4..8 are no rungs; rung 9: t1 3 (n1: P), t3 2 (n2, better 1: S), t5 10 (n3: P).
  for (int e = 4; e <= 8; ++e) {
    for (const char* t : {"t1", "t3", "t5"}) EXPECT_EQ(policy->on_epoch(t, e, 0), P) << t << e;
  }
  std::vector<Report> rung9 = {{"t1", 9, 3}, {"t3", 9, 2}, {"t5", 9, 10}};
  EXPECT_EQ(decisions(feed(*policy, rung9)), "PSP");
  // No rung at 27 (= max_epochs) or in between: a terrible t1 still proceeds.
  for (int e = 10; e <= 27; ++e) EXPECT_EQ(policy->on_epoch("t1", e, -1e9), P) << e;
}

TEST(Asha, ArrivalOrderMattersAndLaterTrialsNeverStopEarlierOnes) {
  // Same three values at rung 1; ascending arrival lets every one through (each is the best
  // so far), descending stops the two that trail the first.
  auto up = make_asha_policy(asha_options(true, 1, 3, 9));
  EXPECT_EQ(decisions(feed(*up, {{"a", 1, 1}, {"b", 1, 2}, {"c", 1, 3}})), "PPP");
  // a, now the worst at rung 1, is not stopped at its next (non-rung) epoch.
  EXPECT_EQ(up->on_epoch("a", 2, 1), P);
  auto down = make_asha_policy(asha_options(true, 1, 3, 9));
  EXPECT_EQ(decisions(feed(*down, {{"c", 1, 3}, {"b", 1, 2}, {"a", 1, 1}})), "PSS");
}

TEST(Asha, ExplicitRungsReplaceTheGeometricOnes) {
  // W&B's hyperband brackets arrive as explicit rungs: {2, 5} with max 10 (the geometric
  // rungs of grace 2, eta 3 would be 2 and 6). Rung 10 = max_epochs is dropped.
  AshaOptions o = asha_options(true, 2, 3, 10);
  o.rungs = {2, 5, 10};
  auto policy = make_asha_policy(o);
  // Epoch 1 is no rung; at rung 2, b (0.4) is below a (0.9): n2 keep1 -> stop.
  EXPECT_EQ(decisions(feed(*policy, {{"a", 1, 0.1}, {"b", 1, 0.9}, {"a", 2, 0.9},
                                     {"b", 2, 0.4}})),
            "PPPS");
  // c passes rung 2 (best of three); epoch 5 is a rung: a (0.9) first, then c (0.1) -> stop.
  EXPECT_EQ(decisions(feed(*policy, {{"c", 1, 0.5}, {"c", 2, 0.95}, {"a", 3, 0.9},
                                     {"a", 4, 0.9}, {"a", 5, 0.9}, {"c", 3, 0.1},
                                     {"c", 4, 0.1}, {"c", 5, 0.1}})),
            "PPPPPPPS");
  auto d = make_asha_policy(o);
  EXPECT_EQ(decisions(feed(*d, {{"x", 1, 1}, {"y", 1, 2}, {"x", 2, 1}, {"y", 2, 2}, {"x", 3, 1},
                                {"y", 3, 2}, {"x", 4, 1}, {"y", 4, 2}, {"x", 5, 1}, {"y", 5, 2},
                                {"y", 6, 2}, {"x", 6, 0}, {"x", 7, 0}, {"x", 8, 0}, {"x", 9, 0},
                                {"x", 10, 0}})),
            // x arrives first at rungs 2 and 5; epoch 6 (a geometric rung, not one here) and
            // epoch 10 (= max_epochs) judge nobody, so x at 0 goes on.
            "PPPPPPPPPPPPPPPP");
}

TEST(Asha, TiesProceed) {
  auto policy = make_asha_policy(asha_options(true, 1, 3, 9));
  // n2 keep1: the second 5 has no strictly better value -> proceed; 4 has two -> stop.
  EXPECT_EQ(decisions(feed(*policy, {{"a", 1, 5}, {"b", 1, 5}, {"c", 1, 4}})), "PPS");
}

TEST(Asha, MinimizeMirrors) {
  auto policy = make_asha_policy(asha_options(false, 1, 3, 9));
  // Losses at rung 1: 3 first (P); 5 has 3 better (S); 1 is the lowest (P).
  EXPECT_EQ(decisions(feed(*policy, {{"a", 1, 3}, {"b", 1, 5}, {"c", 1, 1}})), "PSP");
}

TEST(Asha, NaNIsWorst) {
  auto policy = make_asha_policy(asha_options(true, 1, 3, 9));
  //   n   NaN   first at the rung, nothing better          P
  //   x   -100  n2 keep1; NaN is not better than -100      P
  //   m   NaN   n3 keep1; -100 is better                   S
  EXPECT_EQ(decisions(feed(*policy, {{"n", 1, kNaN}, {"x", 1, -100}, {"m", 1, kNaN}})), "PPS");
  auto down = make_asha_policy(asha_options(false, 1, 3, 9));
  EXPECT_EQ(decisions(feed(*down, {{"n", 1, kNaN}, {"x", 1, 1e9}, {"m", 1, kNaN}})), "PPS");
}

TEST(Asha, RestartReplacesItsRungValue) {
  auto policy = make_asha_policy(asha_options(true, 1, 3, 9));  // rungs 1, 3
  // a 5 (P), b 4 (n2, better 1: S). b restarts at epoch 1 with 6, which replaces its 4:
  // rung 1 holds {a 5, b 6}, n2, better 0 -> P. c 5.5: n3 keep 1, better 1 (6) -> S.
  EXPECT_EQ(decisions(feed(*policy, {{"a", 1, 5}, {"b", 1, 4}, {"b", 1, 6}, {"c", 1, 5.5}})),
            "PSPS");
  // a records 2 at rung 3 (first: P), then restarts from epoch 2, which forgets it.
  EXPECT_EQ(decisions(feed(*policy, {{"a", 2, 0}, {"a", 3, 2}, {"a", 2, 0}})), "PPP");
  // b reaches rung 3 with 1.5: alone there now -> P (next to a's forgotten 2 it would stop).
  EXPECT_EQ(decisions(feed(*policy, {{"b", 2, 0}, {"b", 3, 1.5}})), "PP");
  // a comes back to rung 3 with 1: n2, better 1 (1.5) -> S.
  EXPECT_EQ(policy->on_epoch("a", 3, 1), S);
}

// ---------------------------------------------------------------- replay (resume)

// An interleaved stream as the coordinator would see it live (rungs 1, 3 for ASHA).
std::vector<Report> live_stream() {
  return {{"a", 1, 5}, {"b", 1, 7}, {"a", 2, 6}, {"c", 1, 6}, {"b", 2, 7}, {"d", 1, 8},
          {"a", 3, 6}, {"c", 2, 5}, {"b", 3, 8}, {"d", 2, 8}, {"c", 3, 4}, {"e", 1, 2}};
}
// The same reports grouped trial by trial, in another trial order (as a replay reads them).
std::vector<Report> replay_stream() {
  std::vector<Report> live = live_stream(), out;
  for (const char* t : {"e", "d", "c", "b", "a"}) {
    for (const Report& r : live) {
      if (r.trial == t) out.push_back(r);
    }
  }
  return out;
}

TEST(Replay, SameSequenceSameDecisions) {
  for (const std::string name : {"median", "asha"}) {
    sweeps::EarlyStopping es;
    es.policy = name;
    es.min_trials = 2;
    auto first = make_policy(es, sweeps::Goal::maximize, 9), second = make_policy(es, sweeps::Goal::maximize, 9);
    EXPECT_EQ(decisions(feed(*first, live_stream())), decisions(feed(*second, live_stream())))
        << name;
  }
}

TEST(Replay, ReplayOrderDoesNotChangeLaterDecisionsAsha) {
  sweeps::EarlyStopping es;
  es.policy = "asha";
  auto live = make_policy(es, sweeps::Goal::maximize, 9), resumed = make_policy(es, sweeps::Goal::maximize, 9);
  feed(*live, live_stream());
  feed(*resumed, replay_stream());
  // Rung 1 holds a 5, b 7, c 6, d 8, e 2 (n5). f with 6.5 is the sixth: keep 2, better 2
  // (7, 8) -> stop; g with 7.5: n7 keep 2, better 1 (8) -> proceed.
  // Rung 3 holds a 6, b 8, c 4. d reaches it with 7: n4 keep 1, better 1 (8) -> stop.
  std::vector<Report> next = {{"f", 1, 6.5}, {"g", 1, 7.5}, {"d", 3, 7}};
  EXPECT_EQ(decisions(feed(*live, next)), "SPS");
  EXPECT_EQ(decisions(feed(*resumed, next)), "SPS");
}

TEST(Replay, ReplayOrderDoesNotChangeLaterDecisionsMedian) {
  auto live = make_median_policy(median_options(true, 1, 3));
  auto resumed = make_median_policy(median_options(true, 1, 3));
  feed(*live, live_stream());
  feed(*resumed, replay_stream());
  // Means at epoch 2: a 5.5, b 7, c 5.5, d 8 -> median (5.5 + 7) / 2 = 6.25.
  // e reports epoch 2 with 6: best max(2, 6) = 6 < 6.25 -> stop; f would need 2 epochs.
  // d reports epoch 3 with 0: others at 3 epochs a (17/3), b (22/3), c (15/3) = 3 trials,
  // median 17/3 ~ 5.67; d's best 8 -> proceed.
  std::vector<Report> next = {{"e", 2, 6}, {"d", 3, 0}};
  EXPECT_EQ(decisions(feed(*live, next)), "SP");
  EXPECT_EQ(decisions(feed(*resumed, next)), "SP");
}

}  // namespace
}  // namespace mammosweep::orchestrator
