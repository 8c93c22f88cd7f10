#pragma once
// A fixed four-trial sweep shared by the leaderboard and plot tests. Every number is chosen
// so that the expected outputs can be checked by hand (see leaderboard_test.cpp).
//
//   Model 2 (t002) done, 3 epochs, best val AUC 1.000 at epoch 3; 8 perfectly separated val
//          predictions -> every bootstrap CI is [1, 1].
//   Model 3 (t003) stopped_early, 2 epochs, best val AUC 0.700 at epoch 2, no predictions.
//   Model 1 (t001) done, 3 epochs, best val AUC 0.500 at epoch 2; predictions labels {1,1,0},
//          scores {0.9, 0.1, 0.4}: a stratified resample draws the two positives with
//          replacement (both 0.9 p=1/4, one each p=1/2, both 0.1 p=1/4) and the negative
//          (0.4, predicted 0) always, so AUC and sensitivity CIs are [0, 1] and
//          specificity's is [1, 1].
//   Model 4 (t004) failed: CUDA out of memory, no epoch.
// Parameters: optimizer is "adam" everywhere (not shown); lr, batch_size and
// augmentation.hflip (absent in Model 4) differ.
#include <vector>

#include "results/records.h"

namespace mammosweep::results::testing {

inline EpochRecord epoch(int n, double train_acc, double train_loss, double val_acc,
                         double val_loss, double val_auc, double recall = kNaN,
                         double specificity = kNaN) {
  EpochRecord e;
  e.epoch = n;
  e.train.accuracy = train_acc;
  e.train.loss = train_loss;
  e.val.accuracy = val_acc;
  e.val.loss = val_loss;
  e.val.auc = val_auc;
  e.val.recall = recall;
  e.val.specificity = specificity;
  // Precision for the plots: a simple function of the epoch so the curves are distinct.
  e.val.precision = 0.5 + 0.1 * n;
  return e;
}

inline std::vector<TrialResult> sweep_fixture() {
  std::vector<TrialResult> t(4);
  t[0].id = "t001";
  t[0].name = "Model 1";
  t[0].params = {{"lr", "0.001"}, {"batch_size", "16"}, {"optimizer", "adam"},
                 {"augmentation.hflip", "true"}};
  t[0].status = TrialStatus::done;
  t[0].epochs = {epoch(1, 0.550, 0.690, 1.0 / 3.0, 0.720, 0.400),
                 epoch(2, 0.600, 0.650, 2.0 / 3.0, 0.680, 0.500, 0.5, 1.0),
                 epoch(3, 0.650, 0.640, 1.0 / 3.0, 0.700, 0.450)};
  t[0].best_epoch = 2;
  t[0].best_val_predictions.labels = {1, 1, 0};
  t[0].best_val_predictions.scores = {0.9f, 0.1f, 0.4f};

  t[1].id = "t002";
  t[1].name = "Model 2";
  t[1].params = {{"lr", "0.0001"}, {"batch_size", "16"}, {"optimizer", "adam"},
                 {"augmentation.hflip", "true"}};
  t[1].status = TrialStatus::done;
  t[1].epochs = {epoch(1, 0.600, 0.700, 0.625, 0.650, 0.750),
                 epoch(2, 0.750, 0.550, 0.750, 0.500, 0.875),
                 epoch(3, 0.875, 0.400, 1.000, 0.300, 1.000, 1.0, 1.0)};
  t[1].best_epoch = 3;
  for (int i = 0; i < 8; ++i) {
    t[1].best_val_predictions.labels.push_back(static_cast<std::int8_t>(i % 2));
    t[1].best_val_predictions.scores.push_back(i % 2 ? 0.8f : 0.2f);
  }

  t[2].id = "t003";
  t[2].name = "Model 3";
  t[2].params = {{"lr", "0.001"}, {"batch_size", "32"}, {"optimizer", "adam"},
                 {"augmentation.hflip", "false"}};
  t[2].status = TrialStatus::stopped_early;
  t[2].failure_reason = "val loss did not improve for 1 epoch";
  t[2].epochs = {epoch(1, 0.500, 0.700, 0.500, 0.690, 0.550),
                 epoch(2, 0.550, 0.680, 0.600, 0.660, 0.700, 0.4, 0.8)};

  t[3].id = "t004";
  t[3].name = "Model 4";
  t[3].params = {{"lr", "0.01"}, {"batch_size", "64"}, {"optimizer", "adam"}};
  t[3].status = TrialStatus::failed;
  t[3].failure_reason = "CUDA out of memory";
  return t;
}

}  // namespace mammosweep::results::testing
