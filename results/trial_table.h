#pragma once
// The ranked trials as a table of numbers for the sweep-level views: the parameters that
// differ between them (each a numeric or a categorical column) and the ranking metric at the
// selected epoch. Used by the parallel-coordinates chart (plots.h) and parameter importance
// (importance.h).
#include <string>
#include <vector>

#include "results/ranking.h"
#include "results/records.h"

namespace mammosweep::results {

struct ParamColumn {
  std::string name;                 // "lr", "augmentation.brightness"
  bool numeric = true;              // every value reads as a number
  std::vector<double> values;       // one per row: the number, or the category's index
  std::vector<std::string> categories;  // categorical: the distinct texts, sorted
};

struct TrialTable {
  std::vector<std::size_t> trial;   // row -> index into the trials vector (input order)
  std::vector<double> metric;       // the ranking metric at the selected epoch
  std::vector<ParamColumn> params;  // the parameters whose values differ, in name order
};

/// One row per ranked trial with a finite metric, in input (trial number) order.
TrialTable trial_table(const std::vector<TrialResult>& trials, const Ranking& ranking);

}  // namespace mammosweep::results
