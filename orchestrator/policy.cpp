// The interface's out-of-line parts and the factory; the policies are in policy_*.cpp.
#include "orchestrator/policy.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace mammosweep::orchestrator {

const char* to_string(Decision d) { return d == Decision::stop ? "stop" : "proceed"; }

SchedulingPolicy::~SchedulingPolicy() = default;

std::unique_ptr<SchedulingPolicy> make_policy(const sweeps::EarlyStopping& es, sweeps::Goal goal,
                                              int max_epochs) {
  if (es.grace_epochs < 0) {
    throw std::invalid_argument(fmt::format(
        "early_stopping.grace_epochs expects an integer >= 0, got {}", es.grace_epochs));
  }
  if (max_epochs < 1) {
    throw std::invalid_argument(
        fmt::format("early stopping expects max_epochs >= 1, got {}", max_epochs));
  }
  if (es.policy == "fifo") return make_fifo_policy();
  if (es.policy == "median") {
    if (es.min_trials < 1) {
      throw std::invalid_argument(fmt::format(
          "early_stopping.min_trials expects an integer >= 1, got {}", es.min_trials));
    }
    MedianStoppingOptions o;
    o.goal = goal;
    o.grace_epochs = es.grace_epochs;
    o.min_trials = es.min_trials;
    return make_median_policy(o);
  }
  if (es.policy == "asha") {
    if (!(es.reduction_factor > 1) || !std::isfinite(es.reduction_factor)) {
      throw std::invalid_argument(fmt::format(
          "early_stopping.reduction_factor expects a finite number > 1 (asha), got {}",
          es.reduction_factor));
    }
    AshaOptions o;
    o.goal = goal;
    o.grace_epochs = es.grace_epochs;
    o.reduction_factor = es.reduction_factor;
    o.max_epochs = max_epochs;
    o.rungs = es.rungs;
    return make_asha_policy(o);
  }
  throw std::invalid_argument(fmt::format(
      "early_stopping.policy expects one of fifo, median, asha, got '{}'", es.policy));
}

std::string early_stopping_metric(const sweeps::SweepSpec& spec) {
  return spec.early_stopping.metric.empty() ? spec.metric.name : spec.early_stopping.metric;
}

sweeps::Goal early_stopping_goal(const sweeps::SweepSpec& spec) {
  std::string metric = early_stopping_metric(spec);
  if (metric == spec.metric.name) return spec.metric.goal;
  return metric == "val_loss" ? sweeps::Goal::minimize : sweeps::Goal::maximize;
}

namespace detail {

void check_epoch(const char* policy, const std::string& trial_id, int last_epoch, int epoch) {
  if (epoch < 1 || epoch > last_epoch + 1) {
    throw std::invalid_argument(fmt::format(
        "{} early stopping: trial '{}' reported epoch {}; expected an epoch in 1..{} "
        "(epochs count from 1 and come in order; its last report was epoch {})",
        policy, trial_id, epoch, last_epoch + 1, last_epoch));
  }
}

double sanitize(double value, sweeps::Goal goal) {
  if (!std::isnan(value)) return value;
  double inf = std::numeric_limits<double>::infinity();
  return goal == sweeps::Goal::maximize ? -inf : inf;
}

}  // namespace detail
}  // namespace mammosweep::orchestrator
