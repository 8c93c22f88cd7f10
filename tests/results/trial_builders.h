#pragma once
// Hand-built trials for the ranking and retention tests: a trial from its per-epoch val AUC
// and val loss, synthetic val predictions, and the three-trial one_se table.
#include <string>
#include <vector>

#include "results/records.h"

namespace mammosweep::results::testing {

inline TrialResult trial(std::string name, std::vector<double> auc, std::vector<double> loss,
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

// `n` predictions: positives score `pos`, negatives `neg`, except that every `flip`-th sample
// gets the other class's score (0 = never).
inline Predictions predictions(int n, float pos, float neg, int flip) {
  Predictions p;
  for (int i = 0; i < n; ++i) {
    const std::int8_t y = i % 2;
    const bool flipped = flip > 0 && i % flip == 0;
    p.labels.push_back(y);
    p.scores.push_back((y == 1) != flipped ? pos : neg);
  }
  return p;
}

// Three trials on the same 200 images (labels alternate 0, 1):
//   perfect  AUC 1,     val loss 0.30 (separates the classes)
//   close    AUC 0.995, val loss 0.20: one negative ties the positives' score. By hand:
//            V10 = 99.5/100 for every positive (constant), V01 = 0.5 for that negative and 1
//            for the 99 others: mean 0.995, sum of squared deviations 0.495^2 + 99 * 0.005^2
//            = 0.2475, sample variance 0.0025, so Var(close - perfect) = 0.0025/100,
//            se = 0.005, z = -0.005/0.005 = -1, p = erfc(1/sqrt 2) = 0.317: not significant.
//            95% CI -0.005 -/+ 1.959964 * 0.005 = [-0.0148, 0.0048].
//   noisy    AUC 0.75,  val loss 0.10: significantly worse (p < 0.001, see above).
inline std::vector<TrialResult> one_se_trials() {
  auto perfect = trial("perfect", {1.0}, {0.30});
  perfect.best_val_predictions = predictions(200, 0.9f, 0.1f, 0);
  auto close = trial("close", {0.995}, {0.20});
  close.best_val_predictions = predictions(200, 0.9f, 0.1f, 0);
  close.best_val_predictions.scores[0] = 0.9f;  // image 0 is a negative
  auto noisy = trial("noisy", {0.75}, {0.10});
  noisy.best_val_predictions = predictions(200, 0.9f, 0.1f, 4);
  return {noisy, perfect, close};
}

}  // namespace mammosweep::results::testing
