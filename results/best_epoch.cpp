#include "results/best_epoch.h"

#include <cmath>
#include <optional>
#include <stdexcept>

namespace mammosweep::results {
namespace {

const SplitMetrics* split_of(const EpochRecord& e, const std::string& split) {
  if (split == "val") return &e.val;
  if (split == "train") return &e.train;
  return nullptr;
}

std::optional<double> field_of(const SplitMetrics& m, const std::string& name) {
  if (name == "loss") return m.loss;
  if (name == "accuracy" || name == "acc") return m.accuracy;
  if (name == "precision") return m.precision;
  if (name == "recall" || name == "sensitivity") return m.recall;
  if (name == "specificity") return m.specificity;
  if (name == "f1") return m.f1;
  if (name == "auc") return m.auc;
  return std::nullopt;
}

// The rule on the two numbers it looks at: the metric, then the val loss.
int compare_scores(double metric_a, double loss_a, double metric_b, double loss_b, Goal goal) {
  const int c = compare(metric_a, metric_b, goal);
  return c != 0 ? c : compare(loss_a, loss_b, Goal::minimize);
}

}  // namespace

int compare(double a, double b, Goal goal) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  if (a == b) return 0;
  const bool a_better = goal == Goal::maximize ? a > b : a < b;
  return a_better ? -1 : 1;
}

double epoch_metric(const EpochRecord& e, const std::string& metric) {
  const auto us = metric.find('_');
  if (us != std::string::npos) {
    const SplitMetrics* split = split_of(e, metric.substr(0, us));
    if (split != nullptr) {
      if (auto v = field_of(*split, metric.substr(us + 1))) return *v;
    }
  }
  throw std::invalid_argument("unknown metric '" + metric +
                              "' (expected train_ or val_ followed by loss, accuracy, precision, "
                              "recall, sensitivity, specificity, f1 or auc)");
}

int compare_epochs(const EpochRecord& a, const EpochRecord& b, const std::string& metric,
                   Goal goal) {
  return compare_scores(epoch_metric(a, metric), a.val.loss, epoch_metric(b, metric), b.val.loss,
                        goal);
}

std::size_t best_epoch_index(const std::vector<EpochRecord>& epochs, const std::string& metric,
                             Goal goal) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < epochs.size(); ++i) {
    if (compare_epochs(epochs[i], epochs[best], metric, goal) < 0) best = i;
  }
  return best;
}

bool BestEpoch::offer(const EpochRecord& e) {
  const double value = epoch_metric(e, metric_);
  if (epoch_ != 0 && compare_scores(value, e.val.loss, value_, loss_, goal_) >= 0) return false;
  epoch_ = e.epoch;
  value_ = value;
  loss_ = e.val.loss;
  return true;
}

void BestEpoch::restore(int epoch, double metric, double val_loss) {
  epoch_ = epoch;
  value_ = metric;
  loss_ = val_loss;
}

}  // namespace mammosweep::results
