#include "results/importance.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "results/metrics.h"

namespace mammosweep::results {

namespace {

/// Group label per row: the category; a numeric value when there are at most 5 distinct
/// ones; otherwise one of k = clamp(n / 3, 2, 5) equal-count bins of the sorted values
/// (equal values share a bin).
std::vector<int> groups_of(const ParamColumn& c, int& k) {
  const std::size_t n = c.values.size();
  std::vector<int> g(n);
  std::map<double, int> distinct;
  for (double v : c.values) distinct.emplace(v, 0);
  if (!c.numeric || distinct.size() <= 5) {
    int next = 0;
    for (auto& [v, id] : distinct) id = next++;
    for (std::size_t i = 0; i < n; ++i) g[i] = distinct[c.values[i]];
    k = next;
    return g;
  }
  const int bins = static_cast<int>(std::clamp<std::size_t>(n / 3, 2, 5));
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return c.values[a] < c.values[b]; });
  int bin = 0;
  for (std::size_t r = 0; r < n; ++r) {
    const int want = static_cast<int>(r * bins / n);
    if (want > bin && c.values[order[r]] != c.values[order[r - 1]]) bin = want;
    g[order[r]] = bin;
  }
  k = bin + 1;
  return g;
}

std::vector<double> ranks(const std::vector<double>& v) {  // average ranks for ties
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (std::size_t t = i; t <= j; ++t) r[order[t]] = (static_cast<double>(i + j) / 2.0) + 1;
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : kNaN;
}

}  // namespace

std::vector<ParamImportance> parameter_importance(const TrialTable& table) {
  std::vector<ParamImportance> out;
  const std::size_t n = table.metric.size();
  if (n < 4) return out;
  const double mean = std::accumulate(table.metric.begin(), table.metric.end(), 0.0) / n;
  double ss_total = 0;
  for (double y : table.metric) ss_total += (y - mean) * (y - mean);
  for (const auto& c : table.params) {
    ParamImportance p;
    p.name = c.name;
    int k = 0;
    const std::vector<int> g = groups_of(c, k);
    p.groups = k;
    std::vector<double> sum(k, 0.0), count(k, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      sum[g[i]] += table.metric[i];
      count[g[i]] += 1;
    }
    double ss_between = 0;
    for (int j = 0; j < k; ++j) {
      if (count[j] > 0) ss_between += count[j] * std::pow(sum[j] / count[j] - mean, 2);
    }
    const double ss_within = ss_total - ss_between;
    const double df_within = static_cast<double>(n) - k;
    if (k >= 2 && df_within > 0 && ss_total > 0) {
      const double ms_within = std::max(0.0, ss_within) / df_within;
      p.epsilon_squared =
          std::max(0.0, (ss_between - (k - 1) * ms_within) / (ss_total + ms_within));
    }
    p.correlation = c.numeric ? pearson(ranks(c.values), ranks(table.metric)) : kNaN;
    out.push_back(p);
  }
  double total = 0;
  for (const auto& p : out) total += p.epsilon_squared;
  for (auto& p : out) p.importance = total > 0 ? p.epsilon_squared / total : 0.0;
  std::stable_sort(out.begin(), out.end(), [](const ParamImportance& a, const ParamImportance& b) {
    return a.importance != b.importance ? a.importance > b.importance : a.name < b.name;
  });
  return out;
}

}  // namespace mammosweep::results
