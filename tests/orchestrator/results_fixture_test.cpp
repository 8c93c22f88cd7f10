// A small sweep written through SweepStore, with hand-chosen numbers, and the reading side
// of the result commands (orchestrator/sweep_results.h) checked against them.
//
// The same fixture feeds tests/orchestrator/results_cli.test.sh: with the environment
// variable MAMMOSWEEP_FIXTURE_OUT=DIR, the test WriteForShellTest writes DIR/results.h5
// (otherwise it is skipped).
//
// The sweep (spec metric val_accuracy, maximize; 3 planned epochs per trial):
//   Model 1  done     epochs val acc 0.70 0.90 0.70, val AUC 0.70 0.80 0.75,
//                     val loss 0.60 0.50 0.55, seconds 10 12 14; predictions of epoch 2
//   Model 2  done     epochs val acc 0.75 0.80 0.78, val AUC 0.85 0.92 0.88,
//                     val loss 0.45 0.40 0.35, seconds 8 8 8; predictions of epoch 2
//   Model 3  failed   "CUDA out of memory", 2 attempts, 1 epoch (6 s)
//   Model 4  running  1 epoch (10 s), val acc 0.95 (unranked: not finished)
// Hence by hand:
//   best val accuracy: Model 1 (0.90 > 0.80); final val accuracy: Model 2 (0.78 > 0.70);
//   best val AUC: Model 2 (0.92 > 0.80); lowest val loss: Model 2 (0.35 < 0.50);
//   mean epoch time (10+12+14+8+8+8+6+10)/8 = 9.5 s; remaining epochs 3-1 = 2 (Model 4),
//   one running trial -> ETA 9.5 * 2 / 1 = 19 s.
// The predictions match their epoch's numbers: Model 1 has 4 of 5 positives above every
// negative and 1 positive (0.05) below all -> AUC 20/25 = 0.80, accuracy 9/10 = 0.90;
// Model 2 has 1 false negative (0.35, above 3 negatives) and 1 false positive (0.6)
// -> AUC 23/25 = 0.92, accuracy 8/10 = 0.80.
#include <gtest/gtest.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "io/files.h"
#include "orchestrator/sweep_results.h"
#include "results/ranking.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "tests/temp_dir.h"

namespace mammosweep::orchestrator {
namespace {

using results::EpochRecord;
using results::TrialStatus;

constexpr const char* kSpec = R"(name: fixture
seed: 3
method: variants
metric:
  name: val_accuracy
  goal: maximize
data:
  root: data/fixture
  layout: folders
  image_size: 32
training:
  epochs: 3
  batch_size: 4
variants:
  - name: Model 1
    lr: 1.0e-4
  - name: Model 2
    lr: 5.0e-5
  - name: Model 3
    lr: 3.0e-4
  - name: Model 4
    lr: 2.0e-4
)";

EpochRecord epoch(int n, double train_acc, double train_loss, double val_acc, double val_loss,
                  double val_auc, double seconds, double specificity = 0.9) {
  EpochRecord e;
  e.epoch = n;
  e.train.accuracy = train_acc;
  e.train.loss = train_loss;
  e.val.accuracy = val_acc;
  e.val.loss = val_loss;
  e.val.auc = val_auc;
  e.val.precision = 0.5 + 0.1 * n;  // distinct curves for the plots
  e.val.recall = 1.0 - 0.1 * n;  // 0.8 at epoch 2, as the stored predictions give
  e.val.specificity = specificity;
  e.lr = 1e-4;
  e.seconds = seconds;
  return e;
}

results::Predictions predictions(std::vector<float> pos, std::vector<float> neg) {
  results::Predictions p;
  for (float s : pos) p.labels.push_back(1), p.scores.push_back(s);
  for (float s : neg) p.labels.push_back(0), p.scores.push_back(s);
  return p;
}

/// Writes the sweep described at the top of this file to `path`.
void write_fixture(const std::string& path) {
  sweeps::SweepSpec spec = sweeps::parse_spec(kSpec, "fixture.yaml");
  std::vector<sweeps::Trial> trials = sweeps::expand(spec);
  ASSERT_EQ(trials.size(), 4u);
  results::SweepInfo info;
  info.tool_version = "0.1.0-fixture";
  info.spec_yaml = kSpec;
  info.spec_hash = "sha256:fixture";
  info.created = "2024-06-01T12:00:00Z";
  info.hostnames = {"node01"};
  info.slurm_job_ids = {"1234"};
  std::vector<results::TrialInit> inits;
  for (const auto& t : trials) {
    inits.push_back({t.id, t.name, sweeps::params_to_json(t.params), t.seed});
  }
  results::SweepStore store = results::SweepStore::create(path, info, inits);
  store.add_job_id("1240");

  auto finish = [&](const std::string& id, TrialStatus status, int attempts,
                    const std::string& reason) {
    results::TrialState s;
    s.status = status;
    s.attempts = attempts;
    s.failure_reason = reason;
    s.ranks = {0};
    s.start_time = "2024-06-01T12:00:05Z";
    if (status != TrialStatus::running) s.end_time = "2024-06-01T12:01:00Z";
    store.set_state(id, s);
  };
  const std::string m1 = trials[0].id, m2 = trials[1].id, m3 = trials[2].id, m4 = trials[3].id;
  store.append_epoch(m1, epoch(1, 0.60, 0.66, 0.70, 0.60, 0.70, 10));
  store.append_epoch(m1, epoch(2, 0.70, 0.58, 0.90, 0.50, 0.80, 12, 1.0));
  store.append_epoch(m1, epoch(3, 0.78, 0.50, 0.70, 0.55, 0.75, 14));
  store.set_best_predictions(m1, 2,
                             predictions({0.9f, 0.85f, 0.8f, 0.7f, 0.05f},
                                         {0.45f, 0.4f, 0.35f, 0.2f, 0.1f}));
  finish(m1, TrialStatus::done, 1, "");

  store.append_epoch(m2, epoch(1, 0.62, 0.64, 0.75, 0.45, 0.85, 8));
  store.append_epoch(m2, epoch(2, 0.72, 0.55, 0.80, 0.40, 0.92, 8, 0.8));
  store.append_epoch(m2, epoch(3, 0.80, 0.48, 0.78, 0.35, 0.88, 8));
  store.set_best_predictions(m2, 2,
                             predictions({0.95f, 0.9f, 0.8f, 0.7f, 0.35f},
                                         {0.6f, 0.4f, 0.3f, 0.2f, 0.1f}));
  finish(m2, TrialStatus::done, 1, "");

  store.append_epoch(m3, epoch(1, 0.55, 0.69, 0.60, 0.70, 0.60, 6));
  finish(m3, TrialStatus::failed, 2, "CUDA out of memory");

  store.append_epoch(m4, epoch(1, 0.65, 0.62, 0.95, 0.30, 0.95, 10));
  finish(m4, TrialStatus::running, 1, "");
  store.close();
}

using mammosweep::test::TempDir;

class ResultsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(write_fixture(results::store_path(dir_.path())));
    snap_ = load_sweep(dir_.path());
  }
  std::string winner(const RankingChoice& choice) const {
    results::Ranking r = results::rank_trials(snap_.trials, ranking_options(snap_, choice));
    return r.winner() ? snap_.trials[r.winner()->index].name : "(none)";
  }
  TempDir dir_;
  results::SweepSnapshot snap_;
};

TEST_F(ResultsFixture, DefaultMetricAndGoalComeFromTheStoredSpec) {
  results::RankingOptions o = ranking_options(snap_, {});
  EXPECT_EQ(o.metric, "val_accuracy");
  EXPECT_EQ(o.goal, results::Goal::maximize);
  EXPECT_EQ(o.by, results::EpochChoice::best);
  EXPECT_TRUE(o.compute_cis);
  EXPECT_EQ(o.bootstrap.resamples, 1000);
  EXPECT_EQ(winner({}), "Model 1");  // best val acc 0.90 vs 0.80
}

TEST_F(ResultsFixture, CommandLineChoicesOverrideTheSpec) {
  RankingChoice auc;
  auc.metric = "val_auc";
  EXPECT_EQ(ranking_options(snap_, auc).goal, results::Goal::maximize);
  EXPECT_EQ(winner(auc), "Model 2");  // 0.92 vs 0.80

  RankingChoice loss;
  loss.metric = "val_loss";  // not the spec's metric: a loss is minimized
  EXPECT_EQ(ranking_options(snap_, loss).goal, results::Goal::minimize);
  EXPECT_EQ(winner(loss), "Model 2");  // 0.35 vs 0.50

  RankingChoice final_epoch;
  final_epoch.by = "final";
  EXPECT_EQ(winner(final_epoch), "Model 2");  // final val acc 0.78 vs 0.70

  RankingChoice no_cis;
  no_cis.ci_resamples = 0;
  EXPECT_FALSE(ranking_options(snap_, no_cis).compute_cis);

  RankingChoice min_goal;
  min_goal.goal = "min";
  EXPECT_EQ(ranking_options(snap_, min_goal).goal, results::Goal::minimize);
}

TEST_F(ResultsFixture, FailedAndRunningTrialsAreNotRanked) {
  results::Ranking r = results::rank_trials(snap_.trials, ranking_options(snap_, {}));
  ASSERT_EQ(r.ranked.size(), 2u);
  ASSERT_EQ(r.unranked.size(), 2u);
  EXPECT_EQ(snap_.trials[r.unranked[0].index].name, "Model 3");
  EXPECT_NE(r.unranked[0].reason.find("CUDA out of memory"), std::string::npos);
  EXPECT_EQ(snap_.trials[r.unranked[1].index].name, "Model 4");
}

TEST_F(ResultsFixture, ProgressCountsEpochsAndEta) {
  SweepProgress p = summarize_progress(snap_);
  EXPECT_EQ(p.counts.at(TrialStatus::done), 2);
  EXPECT_EQ(p.counts.at(TrialStatus::failed), 1);
  EXPECT_EQ(p.counts.at(TrialStatus::running), 1);
  EXPECT_EQ(p.counts.at(TrialStatus::pending), 0);
  EXPECT_EQ(p.counts.at(TrialStatus::stopped_early), 0);
  EXPECT_EQ(p.running, 1);
  ASSERT_EQ(p.trials.size(), 4u);
  std::vector<int> done, planned;
  for (const auto& t : p.trials) {
    done.push_back(t.epochs_done);
    ASSERT_TRUE(t.epochs_planned.has_value());
    planned.push_back(*t.epochs_planned);
  }
  EXPECT_EQ(done, (std::vector<int>{3, 3, 1, 1}));
  EXPECT_EQ(planned, (std::vector<int>{3, 3, 3, 3}));
  EXPECT_DOUBLE_EQ(p.trials[0].last_val_auc, 0.75);
  EXPECT_DOUBLE_EQ(p.seconds_per_epoch, 76.0 / 8.0);
  ASSERT_TRUE(p.remaining_epochs.has_value());
  EXPECT_EQ(*p.remaining_epochs, 2);
  ASSERT_TRUE(p.eta_seconds.has_value());
  EXPECT_DOUBLE_EQ(*p.eta_seconds, 19.0);
  EXPECT_EQ(snap_.info.slurm_job_ids, (std::vector<std::string>{"1234", "1240"}));
}

TEST(SweepResults, EtaIsUnknownWithoutTimingsOrRunningTrials) {
  results::SweepSnapshot s;
  s.trials.resize(2);
  s.trials[0].params_json = R"({"epochs":4})";
  s.trials[0].status = TrialStatus::pending;
  s.trials[1].params_json = R"({"epochs":4})";
  s.trials[1].status = TrialStatus::running;
  SweepProgress p = summarize_progress(s);  // no epoch yet: no timing
  EXPECT_EQ(p.remaining_epochs.value_or(-1), 8);
  EXPECT_FALSE(p.eta_seconds.has_value());

  s.trials[1].status = TrialStatus::pending;  // timed, but nothing runs
  s.trials[1].epochs = {epoch(1, 0.5, 0.5, 0.5, 0.5, 0.5, 30)};
  p = summarize_progress(s);
  EXPECT_EQ(p.remaining_epochs.value_or(-1), 7);
  EXPECT_FALSE(p.eta_seconds.has_value());

  s.trials[0].params_json = "{}";  // no planned epoch count: remaining is unknown
  s.trials[1].status = TrialStatus::running;
  p = summarize_progress(s);
  EXPECT_FALSE(p.remaining_epochs.has_value());
  EXPECT_FALSE(p.eta_seconds.has_value());
}

TEST(SweepResults, FormatDuration) {
  EXPECT_EQ(format_duration(19.0), "19s");
  EXPECT_EQ(format_duration(185.0), "3m 05s");
  EXPECT_EQ(format_duration(2 * 3600 + 7 * 60 + 10), "2h 07m");
  EXPECT_EQ(format_duration(-1), "unknown");
}

TEST(SweepResults, UserErrorsNameTheProblem) {
  TempDir empty;
  try {
    load_sweep(empty.path());
    FAIL() << "load_sweep accepted a folder without results.h5";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(empty.path() + ": no results.h5"), std::string::npos)
        << e.what();
  }
  {
    std::ofstream junk(results::store_path(empty.path()));
    junk << "not hdf5";
  }
  EXPECT_THROW(load_sweep(empty.path()), InputError);
  results::SweepSnapshot s;
  RankingChoice bad;
  bad.metric = "val_bogus";
  EXPECT_THROW(ranking_options(s, bad), InputError);
  bad.metric = "";
  bad.by = "middle";
  EXPECT_THROW(ranking_options(s, bad), InputError);
  // No stored spec: val_auc, maximized.
  EXPECT_EQ(ranking_options(s, {}).metric, "val_auc");
  EXPECT_EQ(ranking_options(s, {}).goal, results::Goal::maximize);
}

/// Not a test of its own: writes the fixture for results_cli.test.sh when asked to.
TEST(ResultsFixtureForShell, WriteForShellTest) {
  const char* out = std::getenv("MAMMOSWEEP_FIXTURE_OUT");
  if (out == nullptr || *out == '\0') GTEST_SKIP() << "MAMMOSWEEP_FIXTURE_OUT is not set";
  io::make_dirs(out);
  const std::string path = results::store_path(out);
  ::unlink(path.c_str());
  ASSERT_NO_FATAL_FAILURE(write_fixture(path));
  EXPECT_EQ(results::read_store(path).trials.size(), 4u);
}

}  // namespace
}  // namespace mammosweep::orchestrator
