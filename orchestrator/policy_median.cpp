// Median stopping rule (Golovin et al. 2017, "Google Vizier"), asynchronous form; the exact
// variant is documented in policy.h and docs/early-stopping.md.
#include <algorithm>
#include <map>
#include <vector>

#include "orchestrator/policy.h"

namespace mammosweep::orchestrator {
namespace {

class MedianStoppingPolicy final : public SchedulingPolicy {
 public:
  explicit MedianStoppingPolicy(const MedianStoppingOptions& options) : options_(options) {}

  Decision on_epoch(const std::string& trial_id, int epoch, double metric_value) override {
    History& mine = trials_[trial_id];
    detail::check_epoch("median", trial_id, static_cast<int>(mine.values.size()), epoch);
    // A restart from an earlier epoch forgets the epochs after it.
    mine.values.resize(epoch - 1);
    mine.sums.resize(epoch - 1);
    double value = detail::sanitize(metric_value, options_.goal);
    mine.values.push_back(value);
    mine.sums.push_back(epoch == 1 ? value : mine.sums.back() + value);

    if (epoch < options_.grace_epochs) return Decision::proceed;

    std::vector<double> averages;  // other trials' means over their epochs 1..t
    for (const auto& [id, other] : trials_) {
      if (id == trial_id || static_cast<int>(other.sums.size()) < epoch) continue;
      averages.push_back(detail::sanitize(other.sums[epoch - 1] / epoch, options_.goal));
    }
    if (static_cast<int>(averages.size()) < options_.min_trials) return Decision::proceed;

    std::sort(averages.begin(), averages.end());
    std::size_t n = averages.size();
    double median = n % 2 == 1 ? averages[n / 2] : (averages[n / 2 - 1] + averages[n / 2]) / 2;
    median = detail::sanitize(median, options_.goal);  // -inf + +inf cannot be a median

    double best = mine.values.front();
    for (double v : mine.values) {
      if (detail::better(v, best, options_.goal)) best = v;
    }
    return detail::better(median, best, options_.goal) ? Decision::stop : Decision::proceed;
  }

  std::string name() const override { return "median"; }

 private:
  struct History {
    std::vector<double> values;  // epoch i+1 -> value (NaN already made worst)
    std::vector<double> sums;    // epoch i+1 -> sum of values over epochs 1..i+1
  };
  MedianStoppingOptions options_;
  std::map<std::string, History> trials_;
};

}  // namespace

std::unique_ptr<SchedulingPolicy> make_median_policy(const MedianStoppingOptions& options) {
  return std::make_unique<MedianStoppingPolicy>(options);
}

}  // namespace mammosweep::orchestrator
