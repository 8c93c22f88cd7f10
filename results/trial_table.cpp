#include "results/trial_table.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

namespace mammosweep::results {

namespace {

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(out);
}

}  // namespace

TrialTable trial_table(const std::vector<TrialResult>& trials, const Ranking& ranking) {
  TrialTable t;
  std::map<std::size_t, double> metric;  // sorted by input index
  for (const auto& r : ranking.ranked) {
    if (std::isfinite(r.metric)) metric[r.index] = r.metric;
  }
  for (const auto& [index, m] : metric) {
    t.trial.push_back(index);
    t.metric.push_back(m);
  }
  std::set<std::string> names;
  for (std::size_t i : t.trial) {
    for (const auto& kv : trials[i].params) names.insert(kv.first);
  }
  for (const auto& name : names) {
    std::vector<std::string> texts;
    for (std::size_t i : t.trial) {
      auto it = trials[i].params.find(name);
      texts.push_back(it == trials[i].params.end() ? std::string() : it->second);
    }
    if (std::all_of(texts.begin(), texts.end(), [&](const std::string& s) { return s == texts[0]; })) {
      continue;  // the same in every row: nothing to show or explain
    }
    ParamColumn c;
    c.name = name;
    double v = 0;
    c.numeric = std::all_of(texts.begin(), texts.end(),
                            [&](const std::string& s) { return parse_number(s, v); });
    if (c.numeric) {
      for (const auto& s : texts) {
        parse_number(s, v);
        c.values.push_back(v);
      }
    } else {
      std::set<std::string> distinct(texts.begin(), texts.end());
      c.categories.assign(distinct.begin(), distinct.end());
      for (const auto& s : texts) {
        c.values.push_back(static_cast<double>(
            std::lower_bound(c.categories.begin(), c.categories.end(), s) - c.categories.begin()));
      }
    }
    t.params.push_back(std::move(c));
  }
  return t;
}

}  // namespace mammosweep::results
