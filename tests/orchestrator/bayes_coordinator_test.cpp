// `method: bayes` in the coordinator, without training: simulated workers report epochs
// whose metric is a known function of the trial's parameters. The order rule of
// orchestrator/proposer.h makes the proposals independent of which trial completes first,
// and a sweep killed mid-way and resumed from results.h5 proposes the same trials as an
// uninterrupted one. The real thing under mpirun: tests/orchestrator/bayes_resume.test.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include "io/files.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/proposer.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/search_space.h"
#include "sweeps/tpe.h"
#include "sweeps/trial.h"
#include "tests/temp_dir.h"

namespace mammosweep::orchestrator {
namespace {

const char* kSpec = R"(name: b
seed: 11
method: bayes
max_trials: 14
n_startup_trials: 4
data: {root: /nonexistent, image_size: 32}
training: {epochs: 3}
metric: {name: val_auc, goal: maximize}
parameters:
  lr: {distribution: log_uniform, min: 1.0e-5, max: 1.0e-1}
  dropout: {distribution: uniform, min: 0.0, max: 0.7}
  optimizer: {values: [adam, sgd, rmsprop]}
  dense_units: {distribution: int_uniform, min: 16, max: 64}
)";

/// The simulated validation AUC of a trial at an epoch: best at lr 1e-3, dropout 0.2, adam.
double auc(const sweeps::TrainingParams& p, int epoch) {
  const double d = std::pow(std::log10(p.lr) + 3, 2) + std::pow(p.dropout - 0.2, 2) +
                   (p.optimizer == "adam" ? 0 : 0.3) + std::abs(p.dense_units - 40) / 100.0;
  return 0.95 - 0.1 * d - 0.02 * (3 - epoch);
}

results::EpochRecord record(const sweeps::TrainingParams& p, int epoch) {
  results::EpochRecord r;
  r.epoch = epoch;
  r.val.auc = auc(p, epoch);
  r.val.loss = 1.0 - r.val.auc;
  return r;
}

enum class Finish { oldest_first, newest_often };

/// Runs (or resumes) the sweep at `path` with `slots` simulated workers. Each step the
/// workers take jobs, then one running trial trains to its end: the oldest, or with
/// newest_often every second time the newest (so trials complete out of order). With
/// kill_after > 0 the run "dies" after that many trials ended: every other running trial
/// has reported one epoch and stays `running` in the store.
void run(const std::string& dir, const sweeps::SweepSpec& spec, int slots, Finish finish,
         int kill_after = 0) {
  const std::string path = results::store_path(dir);
  results::SweepStore store = io::file_exists(path)
                                  ? results::SweepStore::open_for_append(path)
                                  : results::SweepStore::create(path, {}, {});
  RunOptions opt;
  opt.out_dir = dir;
  opt.progress = false;
  SweepCoordinator coord(spec, {}, store, opt, slots);
  std::deque<Job> running;
  int ended = 0;
  while (true) {
    while (static_cast<int>(running.size()) < slots && coord.has_queued()) {
      std::optional<Job> job = coord.next_job();
      ASSERT_TRUE(job);
      coord.started(*job, {1});
      running.push_back(*job);
    }
    if (running.empty()) break;
    Job job;
    if (finish == Finish::newest_often && ended % 2 == 1) {
      job = running.back();
      running.pop_back();
    } else {
      job = running.front();
      running.pop_front();
    }
    for (int e = job.resume_from_epoch + 1; e <= job.trial.params.epochs; ++e) {
      coord.epoch(job.trial.id, record(job.trial.params, e), {});
    }
    coord.finished(job.trial.id, results::TrialStatus::done);
    if (++ended == kill_after) {
      for (const Job& j : running) {
        if (j.resume_from_epoch == 0) coord.epoch(j.trial.id, record(j.trial.params, 1), {});
      }
      return;  // no interrupted() call: a kill -9 leaves them `running`
    }
  }
}

std::vector<std::string> ids(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& t : results::read_store(results::store_path(dir)).trials) {
    EXPECT_EQ(t.status, results::TrialStatus::done) << t.name;
    out.push_back(t.id);
  }
  return out;
}

class BayesCoordinator : public ::testing::Test {
 protected:
  sweeps::SweepSpec spec_ = sweeps::parse_spec(kSpec);
  test::TempDir tmp_{"bayes_coordinator"};
  std::string dir(const std::string& name) {
    std::string d = tmp_.file(name);
    io::make_dirs(d);
    return d;
  }
};

TEST_F(BayesCoordinator, ProposalsDoNotDependOnWhichTrialCompletesFirst) {
  const std::string a = dir("a"), b = dir("b");
  run(a, spec_, 2, Finish::oldest_first);
  run(b, spec_, 2, Finish::newest_often);
  const std::vector<std::string> ia = ids(a);
  ASSERT_EQ(ia.size(), 14u);
  EXPECT_EQ(ia, ids(b));
}

TEST_F(BayesCoordinator, KilledAndResumedProposesWhatAnUninterruptedRunWould) {
  const std::string ref = dir("ref"), cut = dir("cut");
  run(ref, spec_, 2, Finish::newest_often);
  run(cut, spec_, 2, Finish::newest_often, 5);
  {
    const results::SweepSnapshot s = results::read_store(results::store_path(cut));
    int running = 0;
    for (const auto& t : s.trials) running += t.status == results::TrialStatus::running;
    ASSERT_EQ(running, 1);  // the kill left one trial mid-way
    ASSERT_LT(s.trials.size(), 14u);
  }
  run(cut, spec_, 2, Finish::oldest_first, 4);  // killed again, later
  run(cut, spec_, 2, Finish::oldest_first);
  EXPECT_EQ(ids(ref), ids(cut));
  // The metrics match too: no epoch lost or repeated across the kills.
  const auto r = results::read_store(results::store_path(ref)).trials;
  const auto c = results::read_store(results::store_path(cut)).trials;
  for (std::size_t i = 0; i < r.size(); ++i) {
    ASSERT_EQ(r[i].epochs.size(), 3u);
    ASSERT_EQ(c[i].epochs.size(), 3u);
    EXPECT_EQ(r[i].epochs[2].val.auc, c[i].epochs[2].val.auc);
  }
}

TEST_F(BayesCoordinator, StartupProposalsAreTheSeededRandomDrawsAndTpeFollows) {
  const std::string a = dir("a");
  run(a, spec_, 1, Finish::oldest_first);
  const auto trials = results::read_store(results::store_path(a)).trials;
  ASSERT_EQ(trials.size(), 14u);
  const sweeps::RandomSampler random(sweeps::search_space(spec_), spec_.seed);
  for (std::uint64_t k = 0; k < 4; ++k) {
    const sweeps::TrainingParams want = sweeps::params_at(spec_, random.ask(k, {}, {}));
    EXPECT_EQ(trials[k].id, sweeps::trial_id(want)) << "proposal " << k;
    EXPECT_EQ(trials[k].name, sweeps::searched_name(spec_, want));
  }
  // Proposal 9 recomputed outside the coordinator: TPE on trials 0..8 in proposal order,
  // oriented (minus the AUC of each trial's best epoch), nothing running (one slot).
  const sweeps::TpeSampler tpe(sweeps::search_space(spec_), spec_.seed, {4, 24, 1.0});
  std::vector<sweeps::Observation> history;
  for (std::size_t j = 0; j < 9; ++j) {
    const sweeps::TrainingParams p = sweeps::params_from_json(trials[j].params_json);
    history.push_back({*sweeps::point_of(spec_, p), -auc(p, 3)});
  }
  EXPECT_EQ(trials[9].id, sweeps::trial_id(sweeps::params_at(spec_, tpe.ask(9, history, {}))));
  // With two slots the window differs, and so do the TPE proposals (not the random ones).
  const std::string b = dir("b");
  run(b, spec_, 2, Finish::oldest_first);
  const auto two = results::read_store(results::store_path(b)).trials;
  EXPECT_EQ(two[3].id, trials[3].id);
  EXPECT_NE(two[13].id, trials[13].id);
}

TEST(BayesObservation, CompleteTrialsCountTheirBestEpochStoppedOnesTheirLast) {
  sweeps::MetricSpec auc_max;  // val_auc, maximize
  Proposed t;
  t.status = results::TrialStatus::done;
  for (double v : {0.6, 0.8, 0.7}) {
    results::EpochRecord e;
    e.epoch = static_cast<int>(t.epochs.size()) + 1;
    e.val.auc = v;
    e.val.loss = 0.5;
    t.epochs.push_back(e);
  }
  std::optional<sweeps::Observation> o = observation_of(t, auc_max);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->value, -0.8);  // the best epoch, negated: the sampler minimises
  EXPECT_FALSE(o->stopped);
  t.status = results::TrialStatus::stopped_early;
  o = observation_of(t, auc_max);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->value, -0.7);  // the last epoch
  EXPECT_TRUE(o->stopped);
  EXPECT_EQ(o->epochs, 3);
  sweeps::MetricSpec loss_min{"val_loss", sweeps::Goal::minimize};
  EXPECT_EQ(observation_of(t, loss_min)->value, 0.5);
  t.status = results::TrialStatus::failed;
  EXPECT_FALSE(observation_of(t, auc_max));
  t.status = results::TrialStatus::running;
  EXPECT_FALSE(observation_of(t, auc_max));
}

}  // namespace
}  // namespace mammosweep::orchestrator
