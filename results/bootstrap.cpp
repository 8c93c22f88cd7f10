#include "results/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "results/metrics.h"

namespace mammosweep::results {
namespace {

// Uniform integer in [0, n) by rejection: identical on every standard library.
std::size_t draw_index(std::mt19937_64& rng, std::size_t n) {
  const std::uint64_t un = static_cast<std::uint64_t>(n);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = max - ((max % un) + 1) % un;  // accepted values: [0, limit]
  for (;;) {
    const std::uint64_t x = rng();
    if (x <= limit) return static_cast<std::size_t>(x % un);
  }
}

Interval make_interval(double point, std::vector<double>& values, double confidence) {
  Interval iv;
  iv.point = point;
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  if (std::isnan(point) || values.empty()) return iv;
  std::sort(values.begin(), values.end());
  const double alpha = 1.0 - confidence;
  iv.lo = quantile_sorted(values, alpha / 2.0);
  iv.hi = quantile_sorted(values, 1.0 - alpha / 2.0);
  return iv;
}

}  // namespace

double quantile_sorted(const std::vector<double>& values, double q) {
  if (values.empty()) return kNaN;
  const double h = (static_cast<double>(values.size()) - 1.0) * q;
  const auto below = static_cast<std::size_t>(std::floor(h));
  if (below + 1 >= values.size()) return values.back();
  return values[below] + (h - static_cast<double>(below)) * (values[below + 1] - values[below]);
}

BootstrapResult bootstrap_ci(const Predictions& p, const BootstrapOptions& options) {
  if (options.resamples < 1) {
    throw std::invalid_argument("bootstrap_ci: resamples is " + std::to_string(options.resamples) +
                                ", expected >= 1");
  }
  if (!(options.confidence > 0.0 && options.confidence < 1.0)) {
    throw std::invalid_argument("bootstrap_ci: confidence is " +
                                std::to_string(options.confidence) + ", expected in (0, 1)");
  }
  validate_predictions(p, "bootstrap_ci predictions");
  BootstrapResult out;
  out.resamples = options.resamples;
  out.confidence = options.confidence;
  const std::size_t n = p.size();
  if (n == 0) return out;

  const SplitMetrics full = compute_metrics(p, options.threshold);

  // Samples in ascending score order, grouped into runs of equal score.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return p.scores[a] < p.scores[b]; });
  std::vector<std::int8_t> label(n);
  std::vector<char> predicted(n);
  std::vector<std::size_t> group_end;  // exclusive end of each run of ties
  std::vector<std::size_t> positives, negatives;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t s = order[i];
    label[i] = p.labels[s];
    predicted[i] = static_cast<double>(p.scores[s]) >= options.threshold ? 1 : 0;
    (label[i] == 1 ? positives : negatives).push_back(i);
    if (i + 1 == n || p.scores[order[i + 1]] != p.scores[s]) group_end.push_back(i + 1);
  }

  std::mt19937_64 rng(options.seed);
  std::vector<std::int64_t> weight(n);
  const auto B = static_cast<std::size_t>(options.resamples);
  std::vector<double> aucs, accs, sens, specs, f1s;
  aucs.reserve(B);
  accs.reserve(B);
  sens.reserve(B);
  specs.reserve(B);
  f1s.reserve(B);
  for (std::size_t b = 0; b < B; ++b) {
    std::fill(weight.begin(), weight.end(), 0);
    if (options.stratified) {
      for (std::size_t k = 0; k < positives.size(); ++k) {
        ++weight[positives[draw_index(rng, positives.size())]];
      }
      for (std::size_t k = 0; k < negatives.size(); ++k) {
        ++weight[negatives[draw_index(rng, negatives.size())]];
      }
    } else {
      for (std::size_t k = 0; k < n; ++k) ++weight[draw_index(rng, n)];
    }
    double auc_num = 0.0;
    double neg_below = 0.0;
    std::int64_t pos_total = 0, neg_total = 0, tp = 0, tn = 0;
    std::size_t begin = 0;
    for (const std::size_t end : group_end) {
      std::int64_t gpos = 0, gneg = 0;
      for (std::size_t i = begin; i < end; ++i) {
        if (weight[i] == 0) continue;
        if (label[i] == 1) {
          gpos += weight[i];
          if (predicted[i]) tp += weight[i];
        } else {
          gneg += weight[i];
          if (!predicted[i]) tn += weight[i];
        }
      }
      auc_num += static_cast<double>(gpos) * (neg_below + 0.5 * static_cast<double>(gneg));
      neg_below += static_cast<double>(gneg);
      pos_total += gpos;
      neg_total += gneg;
      begin = end;
    }
    const double P = static_cast<double>(pos_total), N = static_cast<double>(neg_total);
    aucs.push_back(pos_total > 0 && neg_total > 0 ? auc_num / (P * N) : kNaN);
    accs.push_back(static_cast<double>(tp + tn) / static_cast<double>(n));
    sens.push_back(pos_total > 0 ? static_cast<double>(tp) / P : kNaN);
    specs.push_back(neg_total > 0 ? static_cast<double>(tn) / N : kNaN);
    // F1 = 2 TP / (2 TP + FP + FN), NaN without a true positive (as compute_metrics: the
    // harmonic mean of precision and recall is 0/0 or undefined then).
    const std::int64_t f1_den = 2 * tp + (neg_total - tn) + (pos_total - tp);
    f1s.push_back(tp > 0 ? 2.0 * static_cast<double>(tp) / static_cast<double>(f1_den) : kNaN);
  }
  out.auc = make_interval(full.auc, aucs, options.confidence);
  out.accuracy = make_interval(full.accuracy, accs, options.confidence);
  out.sensitivity = make_interval(full.recall, sens, options.confidence);
  out.specificity = make_interval(full.specificity, specs, options.confidence);
  out.f1 = make_interval(full.f1, f1s, options.confidence);
  return out;
}

}  // namespace mammosweep::results
