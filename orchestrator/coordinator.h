#pragma once
// The sweep's bookkeeping, shared by the one-process runner and the MPI coordinator: which
// trial runs next, what each epoch report does to the results store, retries, early
// stopping, and the progress lines. The coordinator (rank 0) is the only writer of results.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/proposer.h"
#include "orchestrator/sweep_runner.h"
#include "results/best_epoch.h"
#include "results/failure.h"
#include "results/ranking.h"
#include "results/records.h"
#include "results/store.h"
#include "sweeps/spec.h"
#include "sweeps/trial.h"
#include "worker/trainer.h"

namespace mammosweep::orchestrator {

class SchedulingPolicy;
struct DeathNotes;

/// One attempt at one trial.
struct Job {
  sweeps::Trial trial;
  int attempt = 1;            // counts every attempt ever made, across runs
  int resume_from_epoch = 0;  // the store's last epoch for the trial
};

class SweepCoordinator {
 public:
  /// Queues every trial that still needs work (see sweep_runner.h for the resume rules).
  /// method bayes: `trials` is ignored; the store's trials are the proposals so far, and
  /// new ones are proposed (orchestrator/proposer.h) for `slots` trials training at once.
  SweepCoordinator(const sweeps::SweepSpec& spec, std::vector<sweeps::Trial> trials,
                   results::SweepStore& store, const RunOptions& options, int slots = 1);
  ~SweepCoordinator();

  /// The next job, or nullopt when there is none now or the metric's target is reached.
  /// method bayes: queued trials (resumed or retried) first, then a new proposal, added to
  /// the store, when the proposer is ready.
  std::optional<Job> next_job();
  /// Whether next_job() has a job now (bayes: false while a proposal waits for a trial;
  /// always false once the metric's target is reached).
  bool has_queued() const;
  /// Ranks (data-parallel replicas) each trial needs.
  int replicas() const { return spec_.resources.replicas; }
  double gpu_share() const { return spec_.resources.gpus; }  ///< of one device, per rank
  bool lend_idle_threads() const { return spec_.resources.lend_idle_threads; }

  void started(const Job& job, const std::vector<int>& ranks);
  /// Records the epoch (idempotently: an epoch the store already holds is not appended
  /// twice), updates the best predictions, prints a line, and asks the early-stopping policy.
  worker::EpochDecision epoch(const std::string& trial_id, const results::EpochRecord& record,
                              const results::Predictions& val);
  void finished(const std::string& trial_id, results::TrialStatus status);
  /// Records the failure; requeues the trial while this run's retries last.
  void failed(const std::string& trial_id, results::FailureKind kind, const std::string& reason,
              int rank);
  /// The trial stays `running` in the store: a later run resumes it.
  void interrupted(const std::string& trial_id);
  /// A checkpoint of the trial did not fit on disk (worker::DiskFull): the trial stays
  /// `running` (resumable, not failed) and the sweep stops: out_of_space() says why.
  void disk_full(const std::string& trial_id, const std::string& reason);
  const std::string& out_of_space() const { return out_of_space_; }

  /// Fault injection (MAMMOSWEEP_INJECT_FAILURE=0:TRIAL:EPOCH:report): epoch() throws instead
  /// of recording that epoch of TRIAL (name or id).
  void fail_at_report(std::string trial, int epoch) {
    fail_trial_ = std::move(trial);
    fail_epoch_ = epoch;
  }

  int failures() const { return failures_; }
  /// Waits for the checkpoint retention running in the background (see retain()) and prints
  /// what it did. The runners call it before the sweep's results are read; the destructor
  /// waits too, without printing.
  void wait_for_retention();

 private:
  /// Prints one progress line. On a terminal a live table of every trial (state, epoch,
  /// last val AUC) stays below the lines and is redrawn in place.
  void say(const std::string& line);
  /// Applies the spec's checkpoint retention (orchestrator/retention.h) to the sweep folder;
  /// trials running or queued in this run are left alone. The plan is made here; rewriting
  /// and deleting the files (seconds per trial: each kept checkpoint is read, verified and
  /// written again without its optimizer state) runs in a background thread, so that a
  /// one-process sweep trains its next trial and the MPI coordinator answers its workers
  /// meanwhile. One retention runs at a time; the next waits for it and prints what it did.
  void retain();
  worker::CheckpointWriter retention_;  // one background job at a time
  std::string retention_report_;        // written by the job, printed after wait()
  /// At start: when the trial's latest attempt ended in a process death
  /// (process_deaths.h), charges it; after `retries` + 1 deaths marks it failed and returns
  /// true (not queued).
  bool charge_death(const sweeps::Trial& trial, results::TrialState& state,
                    const DeathNotes& deaths);
  std::set<std::string> running_;
  std::string out_of_space_;
  std::string fail_trial_;  // fail_at_report
  int fail_epoch_ = 0;
  /// What the store holds, kept in step with every write: retention ranks from it without
  /// re-reading results.h5 (a 1,000-trial store takes seconds to read) at every trial end.
  std::vector<results::TrialResult> table_;  // store order
  std::map<std::string, std::size_t> row_;   // trial id -> index into table_
  results::RankingOptions ranking_;
  results::TrialResult& row(const std::string& id) { return table_.at(row_.at(id)); }
  struct Live {
    std::string state = "pending";
    int epoch = 0;
    double auc = results::kNaN;
  };
  std::map<std::string, Live> live_;
  std::vector<std::string> order_;  // trial ids in spec order
  bool tty_ = false;
  int table_lines_ = 0;

  const sweeps::SweepSpec& spec_;
  std::map<std::string, sweeps::Trial> trials_;
  results::SweepStore& store_;
  const RunOptions options_;  // a copy: a caller may pass a temporary (found by ASan)
  std::deque<Job> queue_;
  std::map<std::string, int> attempts_this_run_;
  /// Best epoch so far per trial (results/best_epoch.h): its val predictions are stored.
  std::map<std::string, results::BestEpoch> best_;
  std::unique_ptr<SchedulingPolicy> policy_;
  /// W&B's metric.target: which epoch reached it first ("name (id) epoch E: metric V");
  /// once set, no job starts (the queued trials stay pending for a later run to see too).
  std::string target_reached_;
  void check_target(const std::string& trial_id, const results::EpochRecord& record);
  std::unique_ptr<Proposer> proposer_;  // method bayes only
  /// The proposer's view of the trials, in proposal (= store) order.
  std::vector<Proposed> proposed() const;
  /// Adds a proposed trial to the store, the table and the progress display.
  void add_trial(const sweeps::Trial& t);
  int failures_ = 0;
  int epochs_left_ = 0;
  double seconds_per_epoch_ = -1;
};

}  // namespace mammosweep::orchestrator
