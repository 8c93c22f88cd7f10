#pragma once
// One test-split evaluation (`mammosweep evaluate`): what was scored, when, with which
// threshold, and the numbers. Stored as one JSON row of results.h5's /evaluations
// (docs/results-format.md), read back by export (the model card), the leaderboard and the
// report, which show test numbers for the evaluated trial only.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "results/bootstrap.h"
#include "results/metrics.h"

namespace mammosweep::results {

struct TestEvaluation {
  std::string time;  // ISO 8601 UTC
  std::string split = "test";
  std::string trial_id, trial_name;
  int epoch = 0;
  int rank = 0;  // the trial's rank when it was evaluated (1 = model of the week)
  std::string threshold_rule;  // sweeps::to_string(ThresholdRule), e.g. "youden"
  double threshold = 0.5;      // chosen on validation, applied unchanged
  std::size_t images = 0, malignant = 0;
  BootstrapResult ci;  // point estimates and percentile intervals
  ConfusionMatrix cm;
  std::size_t earlier = 0;  // evaluations of the test split recorded before this one
  std::string tool_version;
};

/// The stored JSON object (docs/results-format.md lists its keys).
std::string to_json(const TestEvaluation& e);
/// Parses one stored row. Throws std::runtime_error naming `where` and the bad key.
TestEvaluation evaluation_from_json(const std::string& text, const std::string& where);
/// Every row of `rows` (SweepSnapshot::evaluations), oldest first; `where` names the file.
std::vector<TestEvaluation> parse_evaluations(const std::vector<std::string>& rows,
                                              const std::string& where);
/// The latest evaluation of the test split of `trial_id` at `epoch`, if any.
std::optional<TestEvaluation> latest_evaluation(const std::vector<TestEvaluation>& all,
                                                const std::string& trial_id, int epoch);

}  // namespace mammosweep::results
