#include "results/delong.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "results/metrics.h"

namespace mammosweep::results {
namespace {

// 1-based midranks of `v`: tied values share the mean of the ranks they occupy.
std::vector<double> midranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    const double mid = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1 .. j
    for (std::size_t k = i; k < j; ++k) rank[order[k]] = mid;
    i = j;
  }
  return rank;
}

std::size_t count_positives(const Predictions& p) {
  return static_cast<std::size_t>(std::count(p.labels.begin(), p.labels.end(), 1));
}

// Sample covariance (denominator size - 1) of two equally long vectors.
double covariance(const std::vector<double>& a, const std::vector<double>& b) {
  const double k = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / k;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / k;
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - ma) * (b[i] - mb);
  return s / (k - 1.0);
}

std::string class_count_problem(const Predictions& p) {
  const std::size_t pos = count_positives(p), neg = p.size() - pos;
  if (pos < 2 || neg < 2) {
    return fmt::format("DeLong's test needs at least 2 positive and 2 negative images, got {} "
                       "positive and {} negative",
                       pos, neg);
  }
  return {};
}

}  // namespace

DelongComponents delong_components(const Predictions& p) {
  validate_predictions(p, "DeLong predictions");
  const std::size_t m = count_positives(p), n = p.size() - m;
  if (m == 0 || n == 0) {
    throw std::invalid_argument(fmt::format("DeLong: the AUC needs both classes, got {} positive "
                                            "and {} negative images",
                                            m, n));
  }
  std::vector<double> all, pos, neg;
  all.reserve(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double s = p.scores[i];
    all.push_back(s);
    (p.labels[i] == 1 ? pos : neg).push_back(s);
  }
  const std::vector<double> tz = midranks(all), tx = midranks(pos), ty = midranks(neg);
  DelongComponents c;
  c.v10.reserve(m);
  c.v01.reserve(n);
  std::size_t ip = 0, in = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p.labels[i] == 1) {
      c.v10.push_back((tz[i] - tx[ip++]) / static_cast<double>(n));
    } else {
      c.v01.push_back(1.0 - (tz[i] - ty[in++]) / static_cast<double>(m));
    }
  }
  c.auc = std::accumulate(c.v10.begin(), c.v10.end(), 0.0) / static_cast<double>(m);
  return c;
}

double delong_auc_variance(const Predictions& p) {
  validate_predictions(p, "DeLong predictions");
  if (std::string why = class_count_problem(p); !why.empty()) throw std::invalid_argument(why);
  const DelongComponents c = delong_components(p);
  return covariance(c.v10, c.v10) / static_cast<double>(c.v10.size()) +
         covariance(c.v01, c.v01) / static_cast<double>(c.v01.size());
}

DelongResult reversed(const DelongResult& r) {
  DelongResult o = r;
  o.auc_a = r.auc_b;
  o.auc_b = r.auc_a;
  o.difference = -r.difference;
  o.z = -r.z;
  o.ci_lo = -r.ci_hi;
  o.ci_hi = -r.ci_lo;
  return o;
}

std::string delong_unavailable_reason(const Predictions& a, const Predictions& b) {
  try {
    validate_predictions(a, "first predictions");
    validate_predictions(b, "second predictions");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  if (a.size() != b.size()) {
    return fmt::format("the predictions are not on the same images ({} vs {} images)", a.size(),
                       b.size());
  }
  if (a.labels != b.labels) {
    const auto diff = std::mismatch(a.labels.begin(), a.labels.end(), b.labels.begin());
    return fmt::format("the predictions are not on the same images (labels differ at image {})",
                       diff.first - a.labels.begin());
  }
  return class_count_problem(a);
}

DelongResult delong_test(const Predictions& a, const Predictions& b, double alpha) {
  if (!(alpha > 0.0 && alpha < 1.0)) {
    throw std::invalid_argument(fmt::format("DeLong: alpha is {}, expected 0 < alpha < 1", alpha));
  }
  if (std::string why = delong_unavailable_reason(a, b); !why.empty()) {
    throw std::invalid_argument("DeLong: " + why);
  }
  const DelongComponents ca = delong_components(a), cb = delong_components(b);
  const double m = static_cast<double>(ca.v10.size()), n = static_cast<double>(ca.v01.size());
  const double s10 = covariance(ca.v10, ca.v10) + covariance(cb.v10, cb.v10) -
                     2.0 * covariance(ca.v10, cb.v10);
  const double s01 = covariance(ca.v01, ca.v01) + covariance(cb.v01, cb.v01) -
                     2.0 * covariance(ca.v01, cb.v01);
  const double var = std::max(0.0, s10 / m + s01 / n);  // clamp rounding below zero

  DelongResult r;
  r.alpha = alpha;
  r.positives = ca.v10.size();
  r.negatives = ca.v01.size();
  r.auc_a = ca.auc;
  r.auc_b = cb.auc;
  r.difference = ca.auc - cb.auc;
  r.se = std::sqrt(var);
  if (r.se > 0.0) {
    r.z = r.difference / r.se;
    r.p_value = std::erfc(std::fabs(r.z) / std::sqrt(2.0));
  } else if (r.difference == 0.0) {
    r.z = 0.0;
    r.p_value = 1.0;
  } else {
    r.z = r.difference > 0.0 ? INFINITY : -INFINITY;
    r.p_value = 0.0;
  }
  const double half = normal_quantile(1.0 - alpha / 2.0) * r.se;
  r.ci_lo = r.difference - half;
  r.ci_hi = r.difference + half;
  return r;
}

double normal_quantile(double q) {
  if (!(q > 0.0 && q < 1.0)) return kNaN;
  // Bisection on the CDF Phi(x) = erfc(-x / sqrt 2) / 2, which is exact to double precision
  // in erfc; 200 halvings of [-40, 40] reach the spacing of doubles.
  double lo = -40.0, hi = 40.0;
  for (int i = 0; i < 200 && lo < hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < q) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

}  // namespace mammosweep::results
