// train_trial in a data-parallel group with threads as ranks (tests/worker/thread_group.h):
// two replicas with batch b reach the weights and metrics of one rank with batch 2b, and a
// failure on one replica ends the trial on both (the failing one reports it, the other gets
// GroupAborted).
//
// The equivalence needs every source of per-rank difference switched off: the head alone
// trains (unfrozen_fraction 0, so every BatchNorm runs on its running statistics), no
// dropout, no augmentation (it is drawn per step and rank). Loader sharding gives rank r the
// entries r, r+2, ... of the epoch order, so each step's two half-batches are exactly the
// one-rank batch (worker/loader.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <vector>

#include "sweeps/trial.h"
#include "tests/temp_dir.h"
#include "tests/worker/recording_options.h"
#include "tests/worker/thread_group.h"
#include "worker/checkpoint.h"
#include "worker/data.h"
#include "worker/resnet50.h"
#include "worker/synth.h"
#include "worker/trainer.h"

namespace mammosweep::worker {
namespace {

using test::run_ranks;

// The tolerance of the data-parallel step equivalence (tests/orchestrator/dp_equivalence_test).
constexpr double kTolerance = 1e-5;

class TrainerGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions so;
    so.out = dir_.file("data");
    so.count = 40;  // 28 train images: 3 steps of 8 per epoch, 4 left over
    so.size = 32;
    so.seed = 5;
    write_synthetic_dataset(so);
    sweeps::DataSpec spec;
    spec.root = so.out;
    spec.image_size = so.size;
    PrepareOptions po;
    po.cache_dir = dir_.file("cache");
    po.check_leakage = false;
    data_ = prepare_data(spec, po);
  }

  /// A trial whose replicas compute exactly what one rank computes (see the top).
  static sweeps::Trial trial(int batch_size) {
    sweeps::Trial t;
    t.params.epochs = 2;
    t.params.batch_size = batch_size;
    t.params.dense_units = 16;
    t.params.dropout = 0.0;
    t.params.unfrozen_fraction = 0.0;
    t.params.optimizer = "sgd";
    t.params.lr = 1e-3;
    t.params.balancing = "none";
    t.params.augmentation.hflip = false;
    t.params.augmentation.brightness = 0.0;
    t.params.augmentation.contrast = 0.0;
    t.params.augmentation.saturation = 0.0;
    t.id = "dp";
    t.name = "dp";
    t.seed = 77;
    return t;
  }

  TrainerOptions options(const std::string& sub, std::vector<results::EpochRecord>* out) {
    return test::recording_options(dir_.file(sub), 1, out);
  }

  /// The weights in the newest checkpoint of `sub`.
  std::vector<torch::Tensor> final_weights(const std::string& sub) {
    const auto checkpoints = list_checkpoints(dir_.file(sub));
    EXPECT_FALSE(checkpoints.empty()) << sub;
    ResNet50 model(model_options(trial(1).params, trial(1).seed));
    if (!checkpoints.empty()) load_checkpoint_weights(checkpoints.front().second, *model);
    return model->parameters();
  }

  test::TempDir dir_{"trainer_group_test"};
  PreparedData data_;
};

void expect_close(const results::SplitMetrics& a, const results::SplitMetrics& b) {
  // Relative for the loss: an untrained backbone with frozen BatchNorm gives large logits
  // (losses around 100), and float sums in another order differ in the 7th digit.
  EXPECT_NEAR(a.loss, b.loss, kTolerance * std::max(1.0, std::abs(b.loss)));
  EXPECT_NEAR(a.accuracy, b.accuracy, kTolerance);
  EXPECT_NEAR(a.auc, b.auc, kTolerance);
  EXPECT_EQ(a.cm, b.cm);
}

TEST_F(TrainerGroupTest, TwoReplicasMatchOneRankWithTheWholeBatch) {
  std::vector<results::EpochRecord> single;
  const TrainOutcome one = train_trial(trial(8), data_, options("single", &single));
  ASSERT_EQ(single.size(), 2u);

  std::vector<std::vector<results::EpochRecord>> replicas(2);
  std::vector<TrainOutcome> outcomes(2);
  const auto thrown = run_ranks(2, [&](GradientGroup& group) {
    TrainerOptions o = options("dp", &replicas[group.rank()]);
    o.group = &group;
    outcomes[group.rank()] = train_trial(trial(4), data_, o);
  });
  for (const auto& e : thrown) ASSERT_FALSE(e);

  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(replicas[r].size(), single.size()) << "rank " << r;
    EXPECT_EQ(outcomes[r].epochs_completed, one.epochs_completed);
    EXPECT_EQ(outcomes[r].best_epoch, one.best_epoch);
    for (std::size_t e = 0; e < single.size(); ++e) {
      SCOPED_TRACE("rank " + std::to_string(r) + ", epoch " + std::to_string(e + 1));
      expect_close(replicas[r][e].train, single[e].train);
      expect_close(replicas[r][e].val, single[e].val);
    }
  }
  const auto w_single = final_weights("single"), w_dp = final_weights("dp");
  const auto w_init = ResNet50(model_options(trial(1).params, trial(1).seed))->parameters();
  ASSERT_EQ(w_single.size(), w_dp.size());
  double max_diff = 0, max_change = 0;
  for (std::size_t i = 0; i < w_single.size(); ++i) {
    max_diff = std::max(max_diff, (w_single[i] - w_dp[i]).abs().max().item<double>());
    max_change = std::max(max_change, (w_single[i] - w_init[i]).abs().max().item<double>());
  }
  EXPECT_LT(max_diff, kTolerance);
  EXPECT_GT(max_change, 1e-4) << "training must actually move the weights";
}

TEST_F(TrainerGroupTest, AFailureOnOneReplicaEndsTheTrialOnBoth) {
  std::vector<std::vector<results::EpochRecord>> replicas(2);
  const auto thrown = run_ranks(2, [&](GradientGroup& group) {
    TrainerOptions o = options("fail", &replicas[group.rank()]);
    o.group = &group;
    if (group.rank() == 1) {
      o.fail_at_epoch = 1;
      o.fail_at_step = 2;
    }
    train_trial(trial(4), data_, o);
  });
  ASSERT_TRUE(thrown[0]);
  ASSERT_TRUE(thrown[1]);
  try {
    std::rethrow_exception(thrown[1]);
  } catch (const TrialFailure& e) {
    EXPECT_EQ(e.kind(), results::FailureKind::exception);
    EXPECT_STREQ(e.what(), "injected failure at epoch 1, step 2 (fault injection)");
  } catch (...) {
    ADD_FAILURE() << "rank 1 should report its own failure as a TrialFailure";
  }
  try {
    std::rethrow_exception(thrown[0]);
  } catch (const GroupAborted& e) {
    EXPECT_STREQ(e.what(),
                 "group rank 1 failed: injected failure at epoch 1, step 2 (fault injection)");
  } catch (...) {
    ADD_FAILURE() << "rank 0 should stop with GroupAborted";
  }
  EXPECT_TRUE(replicas[0].empty());  // no epoch was reported
  EXPECT_TRUE(replicas[1].empty());
}

}  // namespace
}  // namespace mammosweep::worker
