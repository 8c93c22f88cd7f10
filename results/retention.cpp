#include "results/retention.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace mammosweep::results {

const char* to_string(Retain r) {
  switch (r) {
    case Retain::everything: return "everything";
    case Retain::weights: return "weights";
    case Retain::nothing: return "nothing";
  }
  return "?";
}

std::vector<TrialRetention> decide_retention(const std::vector<TrialResult>& trials,
                                             RankingOptions options,
                                             const sweeps::CheckpointPolicy& policy,
                                             const std::set<std::string>& active) {
  options.by = EpochChoice::best;
  options.compute_cis = false;
  const Ranking chosen = rank_trials(trials, options);  // the selection rule's order
  RankingOptions metric_only = options;
  metric_only.selection.rule = SelectionRule::best;
  const Ranking by_metric = rank_trials(trials, metric_only);  // the metric order

  std::map<std::size_t, std::size_t> metric_position;  // input index -> 0-based
  for (std::size_t i = 0; i < by_metric.ranked.size(); ++i) {
    metric_position[by_metric.ranked[i].index] = i;
  }
  const bool all = !policy.keep_top_trials.has_value();
  const std::size_t k = all ? 0 : static_cast<std::size_t>(*policy.keep_top_trials);

  std::vector<TrialRetention> out;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const TrialResult& t = trials[i];
    TrialRetention r;
    r.index = i;
    if (active.count(t.id) || t.status == TrialStatus::running ||
        t.status == TrialStatus::pending) {
      r.retain = Retain::everything;
      r.reason = fmt::format("it is {}: resuming needs its checkpoints",
                             active.count(t.id) ? "queued or running" : to_string(t.status));
      out.push_back(std::move(r));
      continue;
    }
    const RankedTrial* ranked = chosen.find(i);
    if (ranked == nullptr) {
      r.retain = Retain::nothing;
      r.reason = fmt::format("it is {} and not ranked: its recorded results need no checkpoint",
                             to_string(t.status));
      out.push_back(std::move(r));
      continue;
    }
    const std::size_t pos = metric_position.at(i);
    const bool one_se = chosen.rule == SelectionRule::one_se;
    if (all) {
      r.reason = "keep_top_trials is all";
    } else if (pos < k) {
      r.reason = fmt::format("it is number {} in the metric order (keep_top_trials {})", pos + 1,
                             k);
    } else if (static_cast<std::size_t>(ranked->rank) <= k) {
      r.reason = fmt::format("it is rank {} by the {} rule (keep_top_trials {})", ranked->rank,
                             sweeps::to_string(chosen.rule), k);
    } else if (one_se && ranked->candidate) {
      r.reason = "it is a one_se candidate: it may still become the model of the week";
    } else {
      r.retain = Retain::nothing;
      r.reason = fmt::format("{} ranked trials come before it in the metric order "
                             "(keep_top_trials {}): it cannot re-enter the top {}",
                             pos, k, k);
      out.push_back(std::move(r));
      continue;
    }
    r.retain = Retain::weights;
    const int best = ranked->epoch;
    const int last = t.epochs.back().epoch;
    switch (policy.keep) {
      case sweeps::CheckpointPolicy::Keep::best: r.epochs = {best}; break;
      case sweeps::CheckpointPolicy::Keep::last: r.epochs = {last}; break;
      case sweeps::CheckpointPolicy::Keep::best_and_last:
        r.epochs = best == last ? std::vector<int>{best} : std::vector<int>{best, last};
        break;
    }
    std::sort(r.epochs.begin(), r.epochs.end());
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace mammosweep::results
