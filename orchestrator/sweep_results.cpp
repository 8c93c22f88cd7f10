#include "orchestrator/sweep_results.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/files.h"
#include "sweeps/parse.h"

namespace mammosweep::orchestrator {

results::SweepSnapshot load_sweep(const std::string& dir) {
  const std::string path = results::store_path(dir);
  if (!io::is_regular_file(path)) {
    throw InputError(fmt::format(
        "{}: no results.h5 (is this a sweep output folder? run `mammosweep run SPEC --out {}` "
        "first)",
        dir, dir));
  }
  try {
    return results::read_store(path);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}: cannot read the sweep results: {}", path, e.what()));
  }
}

std::optional<sweeps::SweepSpec> stored_spec(const results::SweepInfo& info) {
  const bool effective = !info.spec_effective_yaml.empty();
  const std::string& text = effective ? info.spec_effective_yaml : info.spec_yaml;
  if (text.empty()) return std::nullopt;
  try {
    return sweeps::parse_spec(text, effective ? "results.h5:spec_effective_yaml"
                                              : "results.h5:spec_yaml");
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<results::TestEvaluation> test_evaluations(const results::SweepSnapshot& snapshot,
                                                      const std::string& dir) {
  try {
    return results::parse_evaluations(snapshot.evaluations, results::store_path(dir));
  } catch (const std::runtime_error& e) {
    throw InputError(e.what());
  }
}

namespace {

std::optional<results::Goal> parse_goal(const std::string& g) {
  if (g == "max" || g == "maximize") return results::Goal::maximize;
  if (g == "min" || g == "minimize") return results::Goal::minimize;
  return std::nullopt;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

results::RankingOptions ranking_options(const results::SweepSnapshot& snapshot,
                                        const RankingChoice& choice) {
  results::RankingOptions o;
  std::optional<sweeps::SweepSpec> spec = stored_spec(snapshot.info);
  o.metric = !choice.metric.empty() ? choice.metric : spec ? spec->metric.name : "val_auc";
  try {
    (void)results::epoch_metric(results::EpochRecord{}, o.metric);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  if (!choice.goal.empty()) {
    std::optional<results::Goal> g = parse_goal(choice.goal);
    if (!g) throw InputError(fmt::format("goal '{}': expected max or min", choice.goal));
    o.goal = *g;
  } else if (spec && spec->metric.name == o.metric) {
    o.goal = spec->metric.goal;
  } else {
    o.goal = ends_with(o.metric, "_loss") ? results::Goal::minimize : results::Goal::maximize;
  }
  if (choice.by == "best") {
    o.by = results::EpochChoice::best;
  } else if (choice.by == "final") {
    o.by = results::EpochChoice::final;
  } else {
    throw InputError(fmt::format("--by '{}': expected best or final", choice.by));
  }
  if (choice.ci_resamples < 0) {
    throw InputError(fmt::format("--ci-resamples {}: expected 0 (no intervals) or more",
                                 choice.ci_resamples));
  }
  o.compute_cis = choice.ci_resamples > 0;
  if (o.compute_cis) o.bootstrap.resamples = choice.ci_resamples;
  // The spec's selection rule (best or one_se) and the level of the paired tests.
  if (spec) {
    o.selection.rule = spec->selection.rule;
    o.selection.alpha = spec->selection.alpha;
  }
  return o;
}

namespace {

std::optional<int> planned_epochs(const std::string& params_json) {
  nlohmann::json j = nlohmann::json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("epochs");
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  long long n = it->get<long long>();
  if (n <= 0 || n > 1000000) return std::nullopt;
  return static_cast<int>(n);
}

}  // namespace

SweepProgress summarize_progress(const results::SweepSnapshot& snapshot) {
  using results::TrialStatus;
  SweepProgress p;
  for (TrialStatus s : {TrialStatus::pending, TrialStatus::running, TrialStatus::done,
                        TrialStatus::failed, TrialStatus::stopped_early}) {
    p.counts[s] = 0;
  }
  double seconds = 0;
  long timed_epochs = 0;
  long remaining = 0;
  bool remaining_known = true;
  for (std::size_t i = 0; i < snapshot.trials.size(); ++i) {
    const results::TrialResult& t = snapshot.trials[i];
    TrialProgress tp;
    tp.index = i;
    tp.epochs_done = static_cast<int>(t.epochs.size());
    tp.epochs_planned = planned_epochs(t.params_json);
    if (!t.epochs.empty()) tp.last_val_auc = t.epochs.back().val.auc;
    for (const auto& e : t.epochs) {
      if (std::isfinite(e.seconds) && e.seconds >= 0) {
        seconds += e.seconds;
        ++timed_epochs;
      }
    }
    ++p.counts[t.status];
    if (t.status == TrialStatus::running) ++p.running;
    if (t.status == TrialStatus::pending || t.status == TrialStatus::running) {
      if (tp.epochs_planned) {
        remaining += std::max(0, *tp.epochs_planned - tp.epochs_done);
      } else {
        remaining_known = false;
      }
    }
    p.trials.push_back(tp);
  }
  if (timed_epochs > 0) p.seconds_per_epoch = seconds / static_cast<double>(timed_epochs);
  if (remaining_known) p.remaining_epochs = remaining;
  if (p.remaining_epochs && *p.remaining_epochs == 0) {
    p.eta_seconds = 0.0;
  } else if (p.remaining_epochs && p.running > 0 && !std::isnan(p.seconds_per_epoch)) {
    p.eta_seconds = p.seconds_per_epoch * static_cast<double>(*p.remaining_epochs) / p.running;
  }
  return p;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "unknown";
  long s = std::lround(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {:02}s", s / 60, s % 60);
  long m = (s + 30) / 60;  // minutes, rounded
  return fmt::format("{}h {:02}m", m / 60, m % 60);
}


}  // namespace mammosweep::orchestrator
