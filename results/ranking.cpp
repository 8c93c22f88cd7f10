#include "results/ranking.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mammosweep::results {
namespace {

const SplitMetrics* split_of(const EpochRecord& e, const std::string& split) {
  if (split == "val") return &e.val;
  if (split == "train") return &e.train;
  return nullptr;
}

std::optional<double> field_of(const SplitMetrics& m, const std::string& name) {
  if (name == "loss") return m.loss;
  if (name == "accuracy" || name == "acc") return m.accuracy;
  if (name == "precision") return m.precision;
  if (name == "recall" || name == "sensitivity") return m.recall;
  if (name == "specificity") return m.specificity;
  if (name == "f1") return m.f1;
  if (name == "auc") return m.auc;
  return std::nullopt;
}

// -1 when a is better, +1 when b is better, 0 on a tie. NaN loses against any number.
int compare(double a, double b, Goal goal) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  if (a == b) return 0;
  const bool a_better = goal == Goal::maximize ? a > b : a < b;
  return a_better ? -1 : 1;
}

double stability_of(const TrialResult& t, int window) {
  const std::size_t n = t.epochs.size();
  const std::size_t w = std::min<std::size_t>(n, static_cast<std::size_t>(window));
  if (w < 2) return kNaN;
  double mean = 0.0;
  for (std::size_t i = n - w; i < n; ++i) mean += t.epochs[i].val.loss;
  mean /= static_cast<double>(w);
  double var = 0.0;
  for (std::size_t i = n - w; i < n; ++i) {
    const double d = t.epochs[i].val.loss - mean;
    var += d * d;
  }
  return std::sqrt(var / static_cast<double>(w));
}

std::string num(double v) { return std::isnan(v) ? std::string("n/a") : fmt::format("{:.3f}", v); }

std::string with_ci(double v, const Interval* iv, double confidence) {
  std::string s = num(v);
  if (iv != nullptr && iv->has_ci()) {
    s += fmt::format(" [{:.0f}% CI {}-{}]", confidence * 100.0, num(iv->lo), num(iv->hi));
  }
  return s;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += (i + 1 == names.size()) ? " and " : ", ";
    s += names[i];
  }
  return s;
}

std::string unranked_reason(const TrialResult& t) {
  switch (t.status) {
    case TrialStatus::failed:
      return "failed: " + (t.failure_reason.empty() ? std::string("no reason recorded")
                                                    : t.failure_reason);
    case TrialStatus::pending:
    case TrialStatus::running:
      return std::string("not finished (status ") + to_string(t.status) + ")";
    case TrialStatus::done:
    case TrialStatus::stopped_early:
      break;
  }
  return std::string("no epoch recorded (status ") + to_string(t.status) + ")";
}

std::string justify(const std::vector<TrialResult>& trials, const Ranking& r,
                    const RankingOptions& o) {
  if (r.ranked.empty()) {
    return "No model of the week: no trial finished with at least one epoch.";
  }
  const std::string mname = metric_display_name(o.metric);
  const double conf = o.bootstrap.confidence;
  const auto& w = r.ranked[0];
  const TrialResult& wt = trials[w.index];
  const EpochRecord& we = wt.epochs[w.epoch_index];
  const Interval* w_iv = w.ci ? metric_interval(*w.ci, o.metric) : nullptr;

  std::string s = fmt::format("{} is the model of the week: {} {} at epoch {} of {}", wt.name,
                              mname, with_ci(w.metric, w_iv, conf), w.epoch, wt.epochs.size());
  s += fmt::format(", with val loss {}, val accuracy {}, sensitivity {} and specificity {}.",
                   num(we.val.loss), num(we.val.accuracy),
                   with_ci(we.val.recall, w.ci ? &w.ci->sensitivity : nullptr, conf),
                   with_ci(we.val.specificity, w.ci ? &w.ci->specificity : nullptr, conf));
  if (r.ranked.size() == 1) {
    s += " It is the only ranked trial.";
  } else {
    const auto& ru = r.ranked[1];
    const TrialResult& rt = trials[ru.index];
    const Interval* r_iv = ru.ci ? metric_interval(*ru.ci, o.metric) : nullptr;
    s += fmt::format(" It is ahead of {} ({} {} at epoch {}", rt.name, mname,
                     with_ci(ru.metric, r_iv, conf), ru.epoch);
    if (o.metric != "val_loss") s += fmt::format(", val loss {}", num(ru.val_loss));
    s += ").";
    if (compare(w.metric, ru.metric, o.goal) == 0) {
      s += fmt::format(" Both reach {} {}", mname, num(w.metric));
      if (compare(w.val_loss, ru.val_loss, Goal::minimize) != 0) {
        s += fmt::format(", so the tie goes to the lower val loss ({} vs {}).", num(w.val_loss),
                         num(ru.val_loss));
      } else if (compare(w.stability, ru.stability, Goal::minimize) != 0) {
        s += fmt::format(
            " and val loss {}, so the tie goes to the more stable val loss over the last {} "
            "epochs (standard deviation {} vs {}).",
            num(w.val_loss), o.stability_window, num(w.stability), num(ru.stability));
      } else {
        s += fmt::format(" with the same val loss and stability, so the order falls back to the "
                         "name.");
      }
    }
  }
  const std::size_t failed = r.unranked.size();
  s += fmt::format(" {} trial{} ranked", r.ranked.size(), r.ranked.size() == 1 ? " was" : "s were");
  if (failed > 0) {
    s += fmt::format("; {} {} not ranked and {} listed separately", failed,
                     failed == 1 ? "was" : "were", failed == 1 ? "is" : "are");
  }
  s += ".";
  if (r.ranked.size() >= 2) {
    const std::string runner = trials[r.ranked[1].index].name;
    if (r.top_two_ci_overlap.has_value()) {
      if (*r.top_two_ci_overlap) {
        s += fmt::format(" The winner is not significantly better than {}: their {:.0f}% "
                         "confidence intervals overlap.",
                         runner, conf * 100.0);
      } else {
        s += fmt::format(" The {:.0f}% confidence intervals of the winner and {} do not overlap.",
                         conf * 100.0, runner);
      }
    }
  }
  std::vector<std::string> missing;
  const std::size_t shown = std::min<std::size_t>(r.ranked.size(), 2);
  for (std::size_t i = 0; i < shown; ++i) {
    if (!r.ranked[i].ci) missing.push_back(trials[r.ranked[i].index].name);
  }
  if (!missing.empty()) {
    s += fmt::format(" Confidence intervals are unavailable for {} ({}).", join_names(missing),
                     r.ranked[0].ci ? r.ranked[1].ci_note : r.ranked[0].ci_note);
  } else if (r.ranked.size() >= 2 && !r.top_two_ci_overlap.has_value()) {
    s += fmt::format(" No confidence interval is computed for {}, so significance is not "
                     "assessed.",
                     mname);
  }
  return s;
}

}  // namespace

double epoch_metric(const EpochRecord& e, const std::string& metric) {
  const auto us = metric.find('_');
  if (us != std::string::npos) {
    const SplitMetrics* split = split_of(e, metric.substr(0, us));
    if (split != nullptr) {
      if (auto v = field_of(*split, metric.substr(us + 1))) return *v;
    }
  }
  throw std::invalid_argument("unknown metric '" + metric +
                              "' (expected train_ or val_ followed by loss, accuracy, precision, "
                              "recall, sensitivity, specificity, f1 or auc)");
}

std::string metric_display_name(const std::string& metric) {
  const auto us = metric.find('_');
  if (us == std::string::npos) return metric;
  std::string name = metric.substr(us + 1);
  if (name == "auc") name = "AUC";
  if (name == "f1") name = "F1";
  if (name == "acc") name = "accuracy";
  if (name == "recall") name = "sensitivity";
  return metric.substr(0, us) + " " + name;
}

const Interval* metric_interval(const BootstrapResult& ci, const std::string& metric) {
  if (metric == "val_auc") return &ci.auc;
  if (metric == "val_accuracy" || metric == "val_acc") return &ci.accuracy;
  if (metric == "val_recall" || metric == "val_sensitivity") return &ci.sensitivity;
  if (metric == "val_specificity") return &ci.specificity;
  return nullptr;
}

const RankedTrial* Ranking::find(std::size_t index) const {
  for (const auto& r : ranked) {
    if (r.index == index) return &r;
  }
  return nullptr;
}

Ranking rank_trials(const std::vector<TrialResult>& trials, const RankingOptions& o) {
  if (o.stability_window < 2) {
    throw std::invalid_argument("rank_trials: stability_window is " +
                                std::to_string(o.stability_window) + ", expected >= 2");
  }
  epoch_metric(EpochRecord{}, o.metric);  // validates the name even with no trial
  Ranking r;
  r.metric = o.metric;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const TrialResult& t = trials[i];
    const bool finished = t.status == TrialStatus::done || t.status == TrialStatus::stopped_early;
    if (!finished || t.epochs.empty()) {
      r.unranked.push_back({i, unranked_reason(t)});
      continue;
    }
    RankedTrial rt;
    rt.index = i;
    rt.epoch_index = t.epochs.size() - 1;
    if (o.by == EpochChoice::best) {
      rt.epoch_index = 0;
      for (std::size_t e = 1; e < t.epochs.size(); ++e) {
        const EpochRecord& cur = t.epochs[e];
        const EpochRecord& best = t.epochs[rt.epoch_index];
        int c = compare(epoch_metric(cur, o.metric), epoch_metric(best, o.metric), o.goal);
        if (c == 0) c = compare(cur.val.loss, best.val.loss, Goal::minimize);
        if (c < 0) rt.epoch_index = e;  // ties keep the earlier epoch
      }
    }
    const EpochRecord& sel = t.epochs[rt.epoch_index];
    rt.epoch = sel.epoch;
    rt.metric = epoch_metric(sel, o.metric);
    rt.val_loss = sel.val.loss;
    rt.stability = stability_of(t, o.stability_window);
    if (!o.compute_cis) {
      rt.ci_note = "bootstrap disabled";
    } else if (t.best_val_predictions.size() == 0) {
      rt.ci_note = "no validation predictions were stored";
    } else if (t.best_epoch.has_value() && *t.best_epoch != rt.epoch) {
      rt.ci_note = fmt::format("stored predictions are from epoch {}, not the selected epoch {}",
                               *t.best_epoch, rt.epoch);
    } else {
      rt.ci = bootstrap_ci(t.best_val_predictions, o.bootstrap);
    }
    r.ranked.push_back(std::move(rt));
  }
  std::sort(r.ranked.begin(), r.ranked.end(), [&](const RankedTrial& a, const RankedTrial& b) {
    int c = compare(a.metric, b.metric, o.goal);
    if (c == 0) c = compare(a.val_loss, b.val_loss, Goal::minimize);
    if (c == 0) c = compare(a.stability, b.stability, Goal::minimize);
    if (c != 0) return c < 0;
    const TrialResult& ta = trials[a.index];
    const TrialResult& tb = trials[b.index];
    if (ta.name != tb.name) return ta.name < tb.name;
    return ta.id < tb.id;
  });
  for (std::size_t i = 0; i < r.ranked.size(); ++i) r.ranked[i].rank = static_cast<int>(i + 1);
  if (r.ranked.size() >= 2 && r.ranked[0].ci && r.ranked[1].ci) {
    const Interval* a = metric_interval(*r.ranked[0].ci, o.metric);
    const Interval* b = metric_interval(*r.ranked[1].ci, o.metric);
    if (a != nullptr && b != nullptr && a->has_ci() && b->has_ci()) {
      r.top_two_ci_overlap = a->overlaps(*b);
    }
  }
  r.justification = justify(trials, r, o);
  return r;
}

}  // namespace mammosweep::results
