#include "orchestrator/coordinator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <stdexcept>
#include <unistd.h>

#include "io/disk.h"
#include "io/phases.h"
#include "io/time.h"
#include "orchestrator/retention.h"
#include "orchestrator/policy.h"
#include "orchestrator/process_deaths.h"
#include "orchestrator/sweep_results.h"
#include "results/ranking.h"
#include "sweeps/search_space.h"

namespace mammosweep::orchestrator {

namespace {

std::string fmt_num(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.3f}", v); }

/// The most epochs a trial of `spec` can train (bayes: over the searched epochs, if any).
int most_epochs(const sweeps::SweepSpec& spec) {
  for (const auto& [name, dom] : spec.parameters) {
    if (name != "epochs") continue;
    int most = 1;
    for (const auto& v : dom.values) most = std::max(most, static_cast<int>(std::get<std::int64_t>(v)));
    for (const sweeps::Dimension& d : sweeps::search_space(spec)) {  // bounds as searched
      if (d.name == "epochs" && d.kind == sweeps::Dimension::Kind::numeric)
        most = std::max(most, static_cast<int>(std::floor(d.high)));
    }
    return most;
  }
  return spec.training.epochs;
}

}  // namespace

SweepCoordinator::SweepCoordinator(const sweeps::SweepSpec& spec,
                                   std::vector<sweeps::Trial> trials, results::SweepStore& store,
                                   const RunOptions& options, int slots)
    : spec_(spec), store_(store), options_(options) {
  // Replay what the store holds: best-so-far values and the early-stopping history.
  results::SweepSnapshot snap = results::read_store(store.path());
  ranking_ = ranking_options(snap, {});
  table_ = std::move(snap.trials);
  int max_epochs = 1;
  if (spec.method == sweeps::Method::bayes) {
    // The proposals so far are the store's trials, in the order they were proposed.
    proposer_ = std::make_unique<Proposer>(spec, slots);
    trials.clear();
    for (std::size_t i = 0; i < table_.size(); ++i) {
      const results::TrialResult& r = table_[i];
      trials.push_back({r.id, r.name, static_cast<int>(i), r.seed,
                        sweeps::params_from_json(r.params_json)});
    }
    max_epochs = most_epochs(spec);
  }
  for (const auto& t : trials) max_epochs = std::max(max_epochs, t.params.epochs);
  policy_ = make_policy(spec.early_stopping, early_stopping_goal(spec), max_epochs);
  const std::string es_metric = early_stopping_metric(spec);
  std::map<std::string, const results::TrialResult*> stored;
  for (std::size_t i = 0; i < table_.size(); ++i) {
    row_[table_[i].id] = i;
    stored[table_[i].id] = &table_[i];
  }
  // Open MPI gives ranks a pseudo-terminal even when mpirun writes to a file, so the live
  // table is kept to one-process runs on a real terminal (and off with --no-progress).
  tty_ = options.progress && ::isatty(1) != 0 && std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr;
  const DeathNotes deaths = read_death_notes(options.out_dir);
  for (const auto& p : deaths.problems) say("warning: " + p);
  for (const auto& t : trials) {
    order_.push_back(t.id);
    live_[t.id].state = results::to_string(store.state(t.id).status);
    live_[t.id].epoch = store.last_epoch(t.id);
    trials_[t.id] = t;
    results::BestEpoch& best =
        best_.try_emplace(t.id, spec.metric.name, spec.metric.goal).first->second;
    auto it = stored.find(t.id);
    int last = 0;
    if (it != stored.end()) {
      for (const auto& e : it->second->epochs) {
        best.offer(e);
        check_target(t.id, e);
        policy_->on_epoch(t.id, e.epoch, results::epoch_metric(e, es_metric));
        last = e.epoch;
      }
    }
    results::TrialState state = store.state(t.id);
    if (state.status == results::TrialStatus::running && charge_death(t, state, deaths)) continue;
    bool finished = state.status == results::TrialStatus::done ||
                    state.status == results::TrialStatus::stopped_early;
    bool skip_failed = state.status == results::TrialStatus::failed && !options.retry_failed;
    if (finished || skip_failed) continue;
    queue_.push_back({t, state.attempts + 1, last});
    epochs_left_ += t.params.epochs - last;
  }
}

SweepCoordinator::~SweepCoordinator() {
  try {
    retention_.wait();  // before the members its job writes go away
  } catch (...) {  // unwinding: reported by wait_for_retention() when the run ends normally
  }
}

bool SweepCoordinator::charge_death(const sweeps::Trial& trial, results::TrialState& state,
                                    const DeathNotes& deaths) {
  auto it = deaths.by_trial.find(trial.id);
  if (it == deaths.by_trial.end() || it->second.back().attempt != state.attempts) return false;
  const int died = deaths_of(it->second);
  const std::string why = "process died: " + describe(it->second.back());
  if (died <= spec_.retries) {
    say(fmt::format("trial {} ({}): {}; retrying ({} of {} retries)", trial.name, trial.id, why,
                    died, spec_.retries));
    return false;
  }
  state.status = results::TrialStatus::failed;
  state.failure_reason = fmt::format("{} ({} attempt(s) died; retries: {}; notes in {})", why,
                                     died, spec_.retries, deaths_dir(options_.out_dir));
  state.end_time = io::iso_utc_now();
  store_.set_state(trial.id, state);
  row(trial.id).status = results::TrialStatus::failed;
  live_[trial.id].state = "failed";
  ++failures_;
  say(fmt::format("trial {} ({}) failed: {}", trial.name, trial.id, state.failure_reason));
  return true;
}

bool SweepCoordinator::has_queued() const {
  if (!target_reached_.empty()) return false;
  return !queue_.empty() || (proposer_ && proposer_->ready(proposed()));
}

std::vector<Proposed> SweepCoordinator::proposed() const {
  std::set<std::string> queued;
  for (const Job& j : queue_) queued.insert(j.trial.id);
  std::vector<Proposed> out;
  out.reserve(table_.size());
  for (const results::TrialResult& r : table_) {
    out.push_back({trials_.at(r.id).params, r.status, queued.count(r.id) > 0, r.epochs});
  }
  return out;
}

void SweepCoordinator::add_trial(const sweeps::Trial& t) {
  const results::TrialInit init{t.id, t.name, sweeps::params_to_json(t.params), t.seed};
  store_.add_trials({init});
  row_[t.id] = table_.size();
  table_.push_back(results::pending_result(init));
  trials_[t.id] = t;
  order_.push_back(t.id);
  live_[t.id].state = "pending";
  best_.try_emplace(t.id, spec_.metric.name, spec_.metric.goal);
  epochs_left_ += t.params.epochs;
}

std::optional<Job> SweepCoordinator::next_job() {
  io::PhaseTimer phase("next trial (proposal, results.h5)");  // run --profile
  if (!target_reached_.empty()) return std::nullopt;
  const std::vector<Proposed> before = queue_.empty() && proposer_ ? proposed() : std::vector<Proposed>{};
  if (queue_.empty() && proposer_ && proposer_->ready(before)) {
    const bool random = proposer_->random_phase(before);
    std::optional<sweeps::Trial> t = proposer_->propose(before);
    if (!t) {
      say(fmt::format("bayes: no untried point left in the search space after {} trial(s); no "
                      "more proposals",
                      before.size()));
      return std::nullopt;
    }
    add_trial(*t);
    const std::size_t k = before.size();
    const std::size_t seen = k > static_cast<std::size_t>(proposer_->slots())
                                 ? k - static_cast<std::size_t>(proposer_->slots())
                                 : 0;
    say(fmt::format("bayes: proposal {}/{} ({}, from the first {} trial(s), {} counted as "
                    "running): {} ({})",
                    k + 1, sweeps::trial_budget(spec_),
                    random ? "random start-up" : "TPE", seen, k - seen, t->name, t->id));
    queue_.push_back({*t, 1, 0});
  }
  if (queue_.empty()) return std::nullopt;
  Job job = queue_.front();
  queue_.pop_front();
  job.resume_from_epoch = store_.last_epoch(job.trial.id);
  job.attempt = store_.state(job.trial.id).attempts + 1;
  return job;
}

void SweepCoordinator::started(const Job& job, const std::vector<int>& ranks) {
  results::TrialState state = store_.state(job.trial.id);
  state.status = results::TrialStatus::running;
  state.attempts = job.attempt;
  state.ranks = ranks;
  state.failure_reason.clear();
  if (state.start_time.empty()) state.start_time = io::iso_utc_now();
  store_.set_state(job.trial.id, state);
  running_.insert(job.trial.id);
  row(job.trial.id).status = results::TrialStatus::running;
  ++attempts_this_run_[job.trial.id];
  std::string where = ranks.size() == 1 ? fmt::format("rank {}", ranks[0])
                                        : fmt::format("ranks {}", fmt::join(ranks, ","));
  live_[job.trial.id].state = "running";
  say(fmt::format("trial {} ({}) attempt {} on {}{}", job.trial.name, job.trial.id, job.attempt,
                  where,
                  job.resume_from_epoch > 0
                      ? fmt::format(", resuming after epoch {}", job.resume_from_epoch)
                      : ""));
}

worker::EpochDecision SweepCoordinator::epoch(const std::string& trial_id,
                                              const results::EpochRecord& rec,
                                              const results::Predictions& val) {
  const sweeps::Trial& trial = trials_.at(trial_id);
  if (rec.epoch == fail_epoch_ && (fail_trial_ == trial.name || fail_trial_ == trial_id)) {
    throw std::runtime_error(fmt::format(
        "injected failure (MAMMOSWEEP_INJECT_FAILURE) recording epoch {} of trial {}", rec.epoch,
        trial.name));
  }
  const int stored = store_.last_epoch(trial_id);
  if (rec.epoch < stored) return worker::EpochDecision::proceed;  // already recorded
  store_.append_epoch(trial_id, rec);  // epoch == stored replaces the row (a recomputation)
  std::vector<results::EpochRecord>& rows = row(trial_id).epochs;
  rows.resize(static_cast<std::size_t>(rec.epoch - 1));  // the store's rule: L+1 appends, L replaces
  rows.push_back(rec);
  // A recomputed best epoch (the run died after append_epoch, maybe before its predictions
  // were stored) stores its predictions again: the replayed best_ already holds it.
  results::BestEpoch& best = best_.at(trial_id);
  const bool recomputed_best = rec.epoch == stored && best.epoch() == rec.epoch;
  if (best.offer(rec) || recomputed_best) {
    store_.set_best_predictions(trial_id, rec.epoch, val);
    row(trial_id).best_epoch = rec.epoch;
    row(trial_id).best_val_predictions = val;
  }
  if (rec.epoch > stored) --epochs_left_;
  seconds_per_epoch_ =
      seconds_per_epoch_ < 0 ? rec.seconds : 0.7 * seconds_per_epoch_ + 0.3 * rec.seconds;
  live_[trial_id].epoch = rec.epoch;
  live_[trial_id].auc = rec.val.auc;
  say(fmt::format(
                   "{:<12} epoch {}/{}  train loss {} acc {} | val loss {} acc {} AUC {} sens {} "
                   "spec {} | {:.1f}s {:.1f} img/s | ETA {}",
                   trial.name, rec.epoch, trial.params.epochs, fmt_num(rec.train.loss),
                   fmt_num(rec.train.accuracy), fmt_num(rec.val.loss), fmt_num(rec.val.accuracy),
                   fmt_num(rec.val.auc), fmt_num(rec.val.recall), fmt_num(rec.val.specificity),
                   rec.seconds, rec.images_per_second,
                   format_duration(seconds_per_epoch_ * std::max(0, epochs_left_))));
  check_target(trial_id, rec);
  Decision d = policy_->on_epoch(trial_id, rec.epoch,
                                 results::epoch_metric(rec, early_stopping_metric(spec_)));
  if (d == Decision::stop && rec.epoch < trial.params.epochs) {
    say(fmt::format("{:<12} stopped early by the {} rule after epoch {}", trial.name,
                    policy_->name(), rec.epoch));
    epochs_left_ -= trial.params.epochs - rec.epoch;
    return worker::EpochDecision::stop_early;
  }
  return worker::EpochDecision::proceed;
}

void SweepCoordinator::check_target(const std::string& trial_id,
                                    const results::EpochRecord& record) {
  if (!spec_.metric.target || !target_reached_.empty()) return;
  const double v = results::epoch_metric(record, spec_.metric.name);
  const double target = *spec_.metric.target;
  const bool reached = !std::isnan(v) && (spec_.metric.goal == sweeps::Goal::maximize
                                              ? v >= target
                                              : v <= target);
  if (!reached) return;
  target_reached_ = fmt::format("{} ({}) epoch {}: {} {}", trials_.at(trial_id).name, trial_id,
                                record.epoch, spec_.metric.name, v);
  say(fmt::format("metric target {} {} reached by {}; no new trial starts (metric.target)",
                  spec_.metric.name, target, target_reached_));
}

void SweepCoordinator::finished(const std::string& trial_id, results::TrialStatus status) {
  io::PhaseTimer phase("trial end (results.h5, retention plan)");  // run --profile
  live_[trial_id].state = results::to_string(status);
  if (tty_) say(fmt::format("trial {} ({}) {}", trials_.at(trial_id).name, trial_id,
                            results::to_string(status)));
  results::TrialState state = store_.state(trial_id);
  state.status = status;
  state.end_time = io::iso_utc_now();
  if (status == results::TrialStatus::stopped_early) {
    state.failure_reason = fmt::format("stopped early by the {} rule", policy_->name());
  }
  store_.set_state(trial_id, state);
  row(trial_id).status = status;
  running_.erase(trial_id);
  retain();
}

void SweepCoordinator::failed(const std::string& trial_id, results::FailureKind kind,
                              const std::string& reason, int rank) {
  const sweeps::Trial& trial = trials_.at(trial_id);
  results::TrialState state = store_.state(trial_id);
  state.status = results::TrialStatus::failed;
  state.failure_reason = fmt::format("{} on rank {}: {}", results::to_string(kind), rank, reason);
  state.end_time = io::iso_utc_now();
  store_.set_state(trial_id, state);
  row(trial_id).status = results::TrialStatus::failed;
  running_.erase(trial_id);
  live_[trial_id].state = "failed";
  say(fmt::format("trial {} ({}) failed: {}", trial.name, trial_id, state.failure_reason));
  if (attempts_this_run_[trial_id] <= spec_.retries) {
    live_[trial_id].state = "pending";
    say(fmt::format("  retrying ({} of {} retries)", attempts_this_run_[trial_id], spec_.retries));
    queue_.push_back({trial, state.attempts + 1, store_.last_epoch(trial_id)});
  } else {
    ++failures_;
    epochs_left_ -= trial.params.epochs - store_.last_epoch(trial_id);
    retain();
  }
}

void SweepCoordinator::say(const std::string& line) {
  if (!tty_) {
    std::cout << line << "\n" << std::flush;
    return;
  }
  // Erase the table drawn last time, print the line, draw the table again below it.
  if (table_lines_ > 0) std::cout << fmt::format("\033[{}F\033[J", table_lines_);
  std::cout << line << "\n";
  std::cout << fmt::format("\033[2m  {:<14} {:<13} {:>7} {:>8}\n", "trial", "state", "epoch",
                           "val AUC");
  for (const auto& id : order_) {
    const Live& l = live_[id];
    std::cout << fmt::format("  {:<14} {:<13} {:>3}/{:<3} {:>8}\n", trials_.at(id).name.substr(0, 14),
                             l.state, l.epoch, trials_.at(id).params.epochs, fmt_num(l.auc));
  }
  std::cout << "\033[0m" << std::flush;
  table_lines_ = static_cast<int>(order_.size()) + 1;
}

void SweepCoordinator::interrupted(const std::string& trial_id) {
  results::TrialState state = store_.state(trial_id);
  state.status = results::TrialStatus::running;  // resumable
  store_.set_state(trial_id, state);
  row(trial_id).status = results::TrialStatus::running;
  running_.erase(trial_id);
}

void SweepCoordinator::disk_full(const std::string& trial_id, const std::string& reason) {
  interrupted(trial_id);
  live_[trial_id].state = "running";
  say(fmt::format("trial {} ({}) stopped, not failed: disk full: {}", trials_.at(trial_id).name,
                  trial_id, reason));
  if (out_of_space_.empty()) out_of_space_ = reason;
}

void SweepCoordinator::retain() {
  wait_for_retention();  // the plan must see what the previous one did
  try {
    std::set<std::string> active = running_;
    for (const Job& j : queue_) active.insert(j.trial.id);
    RetentionPlan plan =
        plan_retention(options_.out_dir, table_, ranking_, spec_.checkpoints, active);
    if (plan.trials.empty()) return;
    retention_.submit([this, plan = std::move(plan)] {
      io::PhaseTimer phase("checkpoint retention", /*background=*/true);  // run --profile
      const RetentionResult r = apply_retention(plan);
      std::vector<std::string> what;
      for (const auto& p : plan.trials) {
        what.push_back(fmt::format("{} ({}): {}, because {}", p.name, p.id, describe(p),
                                   p.decision.reason));
      }
      retention_report_ = fmt::format("checkpoints: {} freed; {}", io::format_bytes(r.freed),
                                      fmt::join(what, "; "));
      for (const auto& e : r.errors) retention_report_ += "\ncheckpoints: " + e;
    });
  } catch (const std::exception& e) {
    say(fmt::format("checkpoints: retention skipped this time: {}", e.what()));
  }
}

void SweepCoordinator::wait_for_retention() {
  try {
    retention_.wait();
  } catch (const std::exception& e) {
    retention_report_ = fmt::format("checkpoints: retention stopped: {}", e.what());
  }
  if (retention_report_.empty()) return;
  std::size_t begin = 0;
  while (begin <= retention_report_.size()) {  // say() takes one line at a time
    const std::size_t end = std::min(retention_report_.find('\n', begin), retention_report_.size());
    say(retention_report_.substr(begin, end - begin));
    begin = end + 1;
  }
  retention_report_.clear();
}

}  // namespace mammosweep::orchestrator
