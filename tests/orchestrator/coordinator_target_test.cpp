// W&B's metric.target: once an epoch reaches it, the coordinator starts no new trial, and a
// resumed sweep (which replays the store) starts none either.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "orchestrator/coordinator.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "tests/temp_dir.h"

namespace mammosweep::orchestrator {
namespace {

class CoordinatorTarget : public ::testing::Test {
 protected:
  void load(const std::string& metric) {
    spec_ = sweeps::parse_spec(
        "name: t\nmethod: variants\ndata: {root: /nonexistent, image_size: 32}\n"
        "training: {epochs: 3}\nmetric: " + metric + "\n"
        "variants:\n  - {name: A, lr: 0.001}\n  - {name: B, lr: 0.002}\n  - {name: C, lr: 0.003}\n");
    trials_ = sweeps::expand(spec_);
    ASSERT_EQ(trials_.size(), 3u);
    for (const auto& t : trials_) {
      inits_.push_back({t.id, t.name, sweeps::params_to_json(t.params), t.seed});
    }
  }

  static results::EpochRecord record(int epoch, double auc, double loss) {
    results::EpochRecord r;
    r.epoch = epoch;
    r.val.auc = auc;
    r.val.loss = loss;
    return r;
  }

  test::TempDir dir_{"coordinator_target"};
  sweeps::SweepSpec spec_;
  std::vector<sweeps::Trial> trials_;
  std::vector<results::TrialInit> inits_;
};

TEST_F(CoordinatorTarget, ReachingTheTargetStartsNoNewTrial) {
  load("{name: val_auc, goal: maximize, target: 0.8}");
  const std::string path = dir_.file("results.h5");
  const results::Predictions val{{0, 1}, {0.2f, 0.7f}};
  {
    auto store = results::SweepStore::create(path, {}, inits_);
    SweepCoordinator coord(spec_, trials_, store, RunOptions{});
    auto a = coord.next_job();
    ASSERT_TRUE(a);
    coord.started(*a, {1});
    coord.epoch(a->trial.id, record(1, 0.79, 0.5), val);  // below 0.8: B may start
    EXPECT_TRUE(coord.has_queued());
    auto b = coord.next_job();
    ASSERT_TRUE(b);
    coord.started(*b, {2});
    coord.epoch(a->trial.id, record(2, 0.8, 0.4), val);  // reaches 0.8 (>=): C never starts
    EXPECT_FALSE(coord.has_queued());
    EXPECT_FALSE(coord.next_job());
    // Running trials still report and finish.
    coord.epoch(b->trial.id, record(1, 0.6, 0.6), val);
    coord.finished(a->trial.id, results::TrialStatus::done);
    store.close();
  }
  auto store = results::SweepStore::open_for_append(path, inits_);
  SweepCoordinator resumed(spec_, trials_, store, RunOptions{});
  EXPECT_FALSE(resumed.next_job());  // the replayed epochs reach the target too
  store.close();
}

TEST_F(CoordinatorTarget, MinimizedMetricReachesFromAbove) {
  load("{name: val_loss, goal: minimize, target: 0.3}");
  auto store = results::SweepStore::create(dir_.file("results.h5"), {}, inits_);
  SweepCoordinator coord(spec_, trials_, store, RunOptions{});
  auto a = coord.next_job();
  ASSERT_TRUE(a);
  coord.started(*a, {1});
  coord.epoch(a->trial.id, record(1, 0.99, 0.31), {{0, 1}, {0.2f, 0.7f}});
  EXPECT_TRUE(coord.has_queued());  // 0.31 > 0.3
  coord.epoch(a->trial.id, record(2, 0.99, 0.3), {{0, 1}, {0.2f, 0.7f}});
  EXPECT_FALSE(coord.has_queued());
  store.close();
}

TEST_F(CoordinatorTarget, WithoutATargetEveryTrialStarts) {
  load("{name: val_auc, goal: maximize}");
  auto store = results::SweepStore::create(dir_.file("results.h5"), {}, inits_);
  SweepCoordinator coord(spec_, trials_, store, RunOptions{});
  auto a = coord.next_job();
  ASSERT_TRUE(a);
  coord.started(*a, {1});
  coord.epoch(a->trial.id, record(1, 1.0, 0.0), {{0, 1}, {0.2f, 0.7f}});
  int started = 1;
  while (coord.next_job()) ++started;
  EXPECT_EQ(started, 3);
  store.close();
}

}  // namespace
}  // namespace mammosweep::orchestrator
