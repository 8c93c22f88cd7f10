#include "sweeps/spec.h"

#include <algorithm>
#include <sstream>

namespace mammosweep::sweeps {

const char* to_string(Method m) {
  switch (m) {
    case Method::grid: return "grid";
    case Method::random: return "random";
    case Method::variants: return "variants";
    case Method::bayes: return "bayes";
  }
  return "?";
}

const char* to_string(Goal g) { return g == Goal::minimize ? "minimize" : "maximize"; }

const char* to_string(SelectionSpec::Rule r) {
  return r == SelectionSpec::Rule::one_se ? "one_se" : "best";
}

std::optional<CheckpointPolicy::Keep> keep_from_string(const std::string& text) {
  using Keep = CheckpointPolicy::Keep;
  for (Keep k : {Keep::best, Keep::last, Keep::best_and_last}) {
    if (text == to_string(k)) return k;
  }
  return std::nullopt;
}

const char* to_string(CheckpointPolicy::Keep k) {
  switch (k) {
    case CheckpointPolicy::Keep::best: return "best";
    case CheckpointPolicy::Keep::last: return "last";
    case CheckpointPolicy::Keep::best_and_last: return "best_and_last";
  }
  return "?";
}

std::string to_string(const ThresholdRule& t) {
  std::ostringstream v;
  v << t.value;
  switch (t.kind) {
    case ThresholdRule::Kind::fixed: return v.str();
    case ThresholdRule::Kind::youden: return "youden";
    case ThresholdRule::Kind::sensitivity: return "sensitivity@" + v.str();
    case ThresholdRule::Kind::specificity: return "specificity@" + v.str();
  }
  return "?";
}

int trial_budget(const SweepSpec& spec) {
  if (spec.max_trials && spec.run_cap) return std::min(*spec.max_trials, *spec.run_cap);
  return spec.max_trials ? *spec.max_trials : spec.run_cap.value_or(0);
}

}  // namespace mammosweep::sweeps
