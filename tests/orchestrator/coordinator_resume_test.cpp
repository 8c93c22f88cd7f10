// SweepCoordinator after a crash inside an epoch report: the run died after the store
// appended epoch L but before (or after) it stored L's val predictions; the resumed trial
// recomputes epoch L (its checkpoint was not written yet) and reports it again.
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

class CoordinatorResume : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("results.h5");
    spec_ = sweeps::parse_spec(
        "name: t\nseed: 1\nmethod: variants\ndata: {root: /nonexistent, image_size: 32}\n"
        "training: {epochs: 3}\nmetric: {name: val_auc, goal: maximize}\n"
        "variants:\n  - {name: A}\n");
    trials_ = sweeps::expand(spec_);
    ASSERT_EQ(trials_.size(), 1u);
    id_ = trials_[0].id;
    for (const auto& t : trials_) {
      inits_.push_back({t.id, t.name, sweeps::params_to_json(t.params), t.seed});
    }
  }

  static results::EpochRecord record(int epoch, double auc) {
    results::EpochRecord r;
    r.epoch = epoch;
    r.val.auc = auc;
    r.val.loss = 1.0 / epoch;
    return r;
  }

  test::TempDir dir_{"coordinator_resume"};
  std::string path_, id_;
  sweeps::SweepSpec spec_;
  std::vector<sweeps::Trial> trials_;
  std::vector<results::TrialInit> inits_;
};

TEST_F(CoordinatorResume, RecomputedBestEpochStoresItsPredictions) {
  {  // the crashed run: epoch 1 (the best so far) appended, its predictions never stored
    auto store = results::SweepStore::create(path_, {}, inits_);
    store.append_epoch(id_, record(1, 0.8));
    store.close();
  }
  ASSERT_FALSE(results::read_store(path_).trials[0].best_epoch.has_value());

  auto store = results::SweepStore::open_for_append(path_, inits_);
  SweepCoordinator coord(spec_, trials_, store, RunOptions{});
  auto job = coord.next_job();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->resume_from_epoch, 1);
  const results::Predictions val{{0, 1, 1}, {0.25f, 0.5f, 0.75f}};
  coord.epoch(id_, record(1, 0.8), val);  // the recomputation reports epoch 1 again
  store.close();

  results::TrialResult t = results::read_store(path_).trials.at(0);
  ASSERT_EQ(t.epochs.size(), 1u);
  ASSERT_TRUE(t.best_epoch.has_value());
  EXPECT_EQ(*t.best_epoch, 1);
  EXPECT_EQ(t.best_val_predictions.labels, val.labels);
  EXPECT_EQ(t.best_val_predictions.scores, val.scores);
}

TEST_F(CoordinatorResume, RecomputedWorseEpochKeepsTheBestPredictions) {
  const results::Predictions best{{1, 0}, {0.9f, 0.1f}};
  {  // epoch 1 is the best (0.9) with its predictions; epoch 2 (0.5) appended, then the crash
    auto store = results::SweepStore::create(path_, {}, inits_);
    store.append_epoch(id_, record(1, 0.9));
    store.set_best_predictions(id_, 1, best);
    store.append_epoch(id_, record(2, 0.5));
    store.close();
  }
  auto store = results::SweepStore::open_for_append(path_, inits_);
  SweepCoordinator coord(spec_, trials_, store, RunOptions{});
  coord.epoch(id_, record(2, 0.5), results::Predictions{{0, 0}, {0.3f, 0.4f}});
  store.close();

  results::TrialResult t = results::read_store(path_).trials.at(0);
  ASSERT_EQ(t.epochs.size(), 2u);
  ASSERT_TRUE(t.best_epoch.has_value());
  EXPECT_EQ(*t.best_epoch, 1);
  EXPECT_EQ(t.best_val_predictions.labels, best.labels);
  EXPECT_EQ(t.best_val_predictions.scores, best.scores);
}

}  // namespace
}  // namespace mammosweep::orchestrator
