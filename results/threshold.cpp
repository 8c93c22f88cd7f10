#include "results/threshold.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "results/metrics.h"

namespace mammosweep::results {
namespace {

// One candidate threshold with the counts it gives.
struct Cut {
  double threshold = 0;
  double sensitivity = 0;
  double specificity = 0;
  std::size_t youden = 0;  // (J + 1) * pos * neg = tp * neg + tn * pos, exact for ties
};

// Every distinct score as a threshold, in increasing order.
std::vector<Cut> cuts(const Predictions& p, const std::string& rule) {
  std::vector<std::pair<double, int>> s;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    s.emplace_back(p.scores[i], p.labels[i]);
    pos += p.labels[i] == 1;
  }
  const std::size_t neg = p.size() - pos;
  if (pos == 0 || neg == 0) {
    throw std::invalid_argument(fmt::format(
        "threshold {}: the validation predictions hold {} positive and {} negative images; "
        "sensitivity and specificity need both classes",
        rule, pos, neg));
  }
  std::sort(s.begin(), s.end());
  std::vector<Cut> out;
  std::size_t neg_below = 0, pos_below = 0;  // samples with score < the current threshold
  for (std::size_t i = 0; i < s.size();) {
    Cut c;
    c.threshold = s[i].first;
    c.sensitivity = static_cast<double>(pos - pos_below) / static_cast<double>(pos);
    c.specificity = static_cast<double>(neg_below) / static_cast<double>(neg);
    c.youden = (pos - pos_below) * neg + neg_below * pos;
    out.push_back(c);
    const double t = s[i].first;
    for (; i < s.size() && s[i].first == t; ++i) (s[i].second == 1 ? pos_below : neg_below)++;
  }
  return out;
}

}  // namespace

double choose_threshold(const Predictions& val, const sweeps::ThresholdRule& rule) {
  using Kind = sweeps::ThresholdRule::Kind;
  const std::string name = sweeps::to_string(rule);
  if (rule.kind == Kind::fixed) {
    if (!(rule.value >= 0.0 && rule.value <= 1.0)) {
      throw std::invalid_argument(
          fmt::format("threshold {}: a fixed threshold must be in [0, 1]", name));
    }
    return rule.value;
  }
  if (rule.kind != Kind::youden && !(rule.value > 0.0 && rule.value < 1.0)) {
    throw std::invalid_argument(
        fmt::format("threshold {}: the target rate must be in (0, 1)", name));
  }
  validate_predictions(val, "val predictions");
  const std::vector<Cut> c = cuts(val, name);
  switch (rule.kind) {
    case Kind::youden: {
      const Cut* best = &c.front();
      for (const Cut& k : c) {  // increasing thresholds: '>' keeps the lowest of a tie
        if (k.youden > best->youden) best = &k;
      }
      return best->threshold;
    }
    case Kind::sensitivity: {
      double t = c.front().threshold;  // sensitivity 1
      for (const Cut& k : c) {
        if (k.sensitivity >= rule.value) t = k.threshold;
      }
      return t;
    }
    case Kind::specificity:
      for (const Cut& k : c) {
        if (k.specificity >= rule.value) return k.threshold;
      }
      throw std::invalid_argument(fmt::format(
          "threshold {}: no validation score reaches specificity {} (the best is {:.3f} at the "
          "highest score {})",
          name, rule.value, c.back().specificity, c.back().threshold));
    case Kind::fixed:
      break;
  }
  return rule.value;
}

}  // namespace mammosweep::results
