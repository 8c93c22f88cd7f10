// Asynchronous successive halving (Li et al. 2020, "A System for Massively Parallel
// Hyperparameter Tuning"), in its stopping form: a trial is judged once at each rung against
// whatever has been recorded at that rung so far, and is never promoted or stopped later.
#include <cmath>
#include <map>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "orchestrator/policy.h"

namespace mammosweep::orchestrator {

std::vector<int> asha_rungs(int grace_epochs, double reduction_factor, int max_epochs) {
  if (!(reduction_factor > 1) || !std::isfinite(reduction_factor)) {
    throw std::invalid_argument(fmt::format(
        "asha expects a finite reduction_factor > 1, got {}", reduction_factor));
  }
  std::vector<int> rungs;
  // The tolerance keeps 3 * 3.0 from becoming 10 through rounding in pow.
  for (double r = std::max(grace_epochs, 1); r - 1e-9 < max_epochs; r *= reduction_factor) {
    int epoch = static_cast<int>(std::ceil(r - 1e-9));
    if (epoch >= max_epochs) break;
    if (rungs.empty() || epoch > rungs.back()) rungs.push_back(epoch);
  }
  return rungs;
}

namespace {

class AshaPolicy final : public SchedulingPolicy {
 public:
  explicit AshaPolicy(const AshaOptions& options)
      : options_(options) {
    if (!options.rungs.empty()) {
      for (int r : options.rungs) {
        if (r >= 1 && r < options.max_epochs) recorded_[r];
      }
      return;
    }
    for (int r : asha_rungs(options.grace_epochs, options.reduction_factor, options.max_epochs)) {
      recorded_[r];
    }
  }

  Decision on_epoch(const std::string& trial_id, int epoch, double metric_value) override {
    int& last = last_epoch_[trial_id];
    detail::check_epoch("asha", trial_id, last, epoch);
    if (epoch <= last) {
      // A restart from an earlier epoch: forget what it recorded after that epoch.
      for (auto& [rung, values] : recorded_) {
        if (rung > epoch) values.erase(trial_id);
      }
    }
    last = epoch;

    auto rung = recorded_.find(epoch);
    if (rung == recorded_.end()) return Decision::proceed;
    std::map<std::string, double>& values = rung->second;
    double mine = detail::sanitize(metric_value, options_.goal);
    values[trial_id] = mine;  // one value per trial per rung: a restart replaces it

    // Integer count of the top 1/eta; the tolerance keeps 9 / 3.0 at 3.
    auto keep = static_cast<std::size_t>(std::floor(values.size() / options_.reduction_factor + 1e-9));
    keep = std::max<std::size_t>(keep, 1);
    std::size_t better = 0;
    for (const auto& [id, v] : values) {
      if (detail::better(v, mine, options_.goal)) ++better;
    }
    return better < keep ? Decision::proceed : Decision::stop;
  }

  std::string name() const override { return "asha"; }

 private:
  AshaOptions options_;
  std::map<int, std::map<std::string, double>> recorded_;  // rung epoch -> trial id -> value
  std::map<std::string, int> last_epoch_;                   // trial id -> last reported epoch
};

}  // namespace

std::unique_ptr<SchedulingPolicy> make_asha_policy(const AshaOptions& options) {
  return std::make_unique<AshaPolicy>(options);
}

}  // namespace mammosweep::orchestrator
