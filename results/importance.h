#pragma once
// Parameter importance: how much of the spread of the ranking metric over the ranked trials
// each parameter explains, on its own. A one-way analysis of variance per parameter with
// the small-sample correction epsilon-squared (docs/leaderboard.md, "Parameter importance"):
// meant for the tens of trials a sweep has, where a fitted model (fANOVA's random forest)
// has too little to learn from.
#include <string>
#include <vector>

#include "results/trial_table.h"

namespace mammosweep::results {

struct ParamImportance {
  std::string name;
  /// epsilon^2 = (SS_between - (k - 1) MS_within) / (SS_total + MS_within), clipped at 0:
  /// the share of the metric's variance explained by the parameter's k groups.
  double epsilon_squared = 0;
  /// epsilon_squared over the sum of all parameters' (0 when the sum is 0): sums to 1.
  double importance = 0;
  /// Spearman rank correlation of a numeric parameter with the metric (NaN: categorical).
  double correlation = 0;
  int groups = 0;  // k: categories, distinct values (<= 5), or equal-count bins of numbers
};

/// One entry per column of `table`, most important first (ties by name). Empty when the
/// table has fewer than 4 rows.
std::vector<ParamImportance> parameter_importance(const TrialTable& table);

}  // namespace mammosweep::results
