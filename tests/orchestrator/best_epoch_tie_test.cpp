// A metric tie between epochs, end to end through the real store: the coordinator stores the
// predictions of the epoch that ranking selects (so its CI exists), and the trainer's rule
// (which decides the checkpoint it keeps) picks the same epoch. Before the one rule, ranking
// broke the tie by val loss while the trainer and coordinator kept the earlier epoch.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "orchestrator/coordinator.h"
#include "results/best_epoch.h"
#include "results/ranking.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "tests/temp_dir.h"

namespace mammosweep::orchestrator {
namespace {

results::EpochRecord record(int epoch, double accuracy, double loss) {
  results::EpochRecord r;
  r.epoch = epoch;
  r.val.accuracy = accuracy;
  r.val.loss = loss;
  r.val.auc = 0.5;
  return r;
}

TEST(BestEpochTie, StoreRankingAndTrainerSelectTheSameEpoch) {
  const test::TempDir dir("best_epoch_tie");
  const std::string path = dir.file("results.h5");
  const sweeps::SweepSpec spec = sweeps::parse_spec(
      "name: t\nseed: 1\nmethod: variants\ndata: {root: /nonexistent, image_size: 32}\n"
      "training: {epochs: 3}\nmetric: {name: val_accuracy}\nvariants:\n  - {name: A}\n");
  const std::vector<sweeps::Trial> trials = sweeps::expand(spec);
  ASSERT_EQ(trials.size(), 1u);
  const std::string id = trials[0].id;
  std::vector<results::TrialInit> inits{
      {id, trials[0].name, sweeps::params_to_json(trials[0].params), trials[0].seed}};

  // Epochs 1 and 2 tie on accuracy 0.75; epoch 2 has the lower val loss, so by the rule
  // (metric, then lower val loss, then earlier) epoch 2 is the best. Epoch 3 is worse.
  const std::vector<results::EpochRecord> epochs = {record(1, 0.75, 0.6), record(2, 0.75, 0.4),
                                                    record(3, 0.5, 0.3)};
  const std::vector<results::Predictions> preds = {{{0, 1, 0, 1}, {0.2f, 0.6f, 0.7f, 0.9f}},
                                                   {{0, 1, 0, 1}, {0.1f, 0.8f, 0.6f, 0.7f}},
                                                   {{0, 1, 0, 1}, {0.6f, 0.4f, 0.3f, 0.9f}}};
  {
    auto store = results::SweepStore::create(path, {}, inits);
    SweepCoordinator coord(spec, trials, store, RunOptions{});
    auto job = coord.next_job();
    ASSERT_TRUE(job);
    coord.started(*job, {0});
    for (std::size_t i = 0; i < epochs.size(); ++i) coord.epoch(id, epochs[i], preds[i]);
    coord.finished(id, results::TrialStatus::done);
    store.close();
  }
  const results::SweepSnapshot snap = results::read_store(path);
  const results::TrialResult& t = snap.trials.at(0);
  ASSERT_TRUE(t.best_epoch.has_value());
  EXPECT_EQ(*t.best_epoch, 2);
  EXPECT_EQ(t.best_val_predictions.scores, preds[1].scores);

  results::RankingOptions ro;
  ro.metric = "val_accuracy";
  ro.bootstrap.resamples = 200;
  const results::Ranking ranking = results::rank_trials(snap.trials, ro);
  ASSERT_EQ(ranking.ranked.size(), 1u);
  EXPECT_EQ(ranking.ranked[0].epoch, 2);
  EXPECT_TRUE(ranking.ranked[0].ci.has_value()) << ranking.ranked[0].ci_note;

  // The trainer keeps the checkpoint of BestEpoch's epoch (worker/trainer.cpp).
  results::BestEpoch trainer_rule(spec.metric.name, spec.metric.goal);
  for (const auto& e : epochs) trainer_rule.offer(e);
  EXPECT_EQ(trainer_rule.epoch(), 2);
}

}  // namespace
}  // namespace mammosweep::orchestrator
