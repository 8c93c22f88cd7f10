#include "orchestrator/proposer.h"

#include <cmath>
#include <set>
#include <stdexcept>

#include "results/best_epoch.h"
#include "sweeps/search_space.h"

namespace mammosweep::orchestrator {

namespace {

bool finished(const Proposed& t) {
  return t.status == results::TrialStatus::done ||
         t.status == results::TrialStatus::stopped_early ||
         (t.status == results::TrialStatus::failed && !t.retrying);
}

sweeps::TpeOptions tpe_options(const sweeps::SweepSpec& spec) {
  sweeps::TpeOptions o;
  o.n_startup_trials = spec.n_startup_trials;
  return o;
}

/// First proposal of the window of running trials.
std::size_t window_start(std::size_t k, int slots) {
  return k > static_cast<std::size_t>(slots) ? k - static_cast<std::size_t>(slots) : 0;
}

}  // namespace

std::optional<sweeps::Observation> observation_of(const Proposed& trial,
                                                  const sweeps::MetricSpec& metric) {
  if (trial.epochs.empty()) return std::nullopt;
  sweeps::Observation o;
  const results::EpochRecord* e = nullptr;
  if (trial.status == results::TrialStatus::done) {
    e = &trial.epochs[results::best_epoch_index(trial.epochs, metric.name, metric.goal)];
  } else if (trial.status == results::TrialStatus::stopped_early) {
    e = &trial.epochs.back();
    o.stopped = true;
    o.epochs = e->epoch;
  } else {
    return std::nullopt;
  }
  const double v = results::epoch_metric(*e, metric.name);
  if (std::isnan(v)) return std::nullopt;
  o.value = metric.goal == sweeps::Goal::maximize ? -v : v;
  return o;
}

Proposer::Proposer(const sweeps::SweepSpec& spec, int slots)
    : spec_(spec),
      sampler_(sweeps::search_space(spec), spec.seed, tpe_options(spec)),
      slots_(std::max(1, slots)) {}

bool Proposer::ready(const std::vector<Proposed>& trials) const {
  if (exhausted_ || static_cast<int>(trials.size()) >= sweeps::trial_budget(spec_)) return false;
  const std::size_t end = window_start(trials.size(), slots_);
  for (std::size_t j = 0; j < end; ++j) {
    if (!finished(trials[j])) return false;
  }
  return true;
}

std::vector<sweeps::Observation> Proposer::history(const std::vector<Proposed>& trials) const {
  std::vector<sweeps::Observation> h;
  const std::size_t end = window_start(trials.size(), slots_);
  for (std::size_t j = 0; j < end; ++j) {
    std::optional<sweeps::Observation> o = observation_of(trials[j], spec_.metric);
    if (!o) continue;
    std::optional<sweeps::Point> x = sweeps::point_of(spec_, trials[j].params);
    if (!x) continue;  // a trial of an earlier spec, outside this search space
    o->x = std::move(*x);
    h.push_back(std::move(*o));
  }
  return h;
}

bool Proposer::random_phase(const std::vector<Proposed>& trials) const {
  return static_cast<int>(history(trials).size()) < spec_.n_startup_trials;
}

std::optional<sweeps::Trial> Proposer::propose(const std::vector<Proposed>& trials) {
  const std::size_t k = trials.size();
  const std::vector<sweeps::Observation> h = history(trials);
  std::vector<sweeps::Point> running;
  for (std::size_t j = window_start(k, slots_); j < k; ++j) {
    if (auto x = sweeps::point_of(spec_, trials[j].params)) running.push_back(std::move(*x));
  }
  std::set<std::string> existing;
  for (const Proposed& t : trials) existing.insert(sweeps::trial_id(t.params));
  for (std::uint64_t again = 0; again < 100; ++again) {
    const sweeps::Point x = sampler_.ask(k + (again << 32), h, running);
    const sweeps::TrainingParams params = sweeps::params_at(spec_, x);
    if (existing.count(sweeps::trial_id(params))) {
      running.push_back(x);  // a repeat: drawn again with it counted as running
      continue;
    }
    return sweeps::make_trial(spec_, sweeps::searched_name(spec_, params), params,
                              static_cast<int>(k));
  }
  exhausted_ = true;
  return std::nullopt;
}

}  // namespace mammosweep::orchestrator
