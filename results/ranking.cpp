#include "results/ranking.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mammosweep::results {
namespace {

// Population standard deviation of `get(epoch)` over the last `window` epochs; NaN with
// fewer than 2 epochs.
template <typename Get>
double spread_of(const TrialResult& t, int window, Get get) {
  const std::size_t n = t.epochs.size();
  const std::size_t w = std::min<std::size_t>(n, static_cast<std::size_t>(window));
  if (w < 2) return kNaN;
  double mean = 0.0;
  for (std::size_t i = n - w; i < n; ++i) mean += get(t.epochs[i]);
  mean /= static_cast<double>(w);
  double var = 0.0;
  for (std::size_t i = n - w; i < n; ++i) {
    const double d = get(t.epochs[i]) - mean;
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

std::string percent(double alpha) { return fmt::format("{:.4g}%", (1.0 - alpha) * 100.0); }

std::string p_text(double p) {
  return p < 0.001 ? std::string("p < 0.001") : fmt::format("p = {:.3f}", p);
}

// "X is not significantly better than Y in val AUC: AUC difference 0.034 [95% CI -0.010 to
// 0.080], DeLong p = 0.130 (paired, on the same 120 validation images)." for d = AUC(X) - AUC(Y).
std::string paired_sentence(const std::string& x, const std::string& y, const DelongResult& d) {
  const bool better = d.difference >= 0.0;
  return fmt::format(
      " {} is {}significantly {} than {} in val AUC: AUC difference {} [{} CI {} to {}], DeLong "
      "{} (paired, on the same {} validation images).",
      x, d.significant() ? "" : "not ", better ? "better" : "worse", y, num(d.difference),
      percent(d.alpha), num(d.ci_lo), num(d.ci_hi), p_text(d.p_value),
      d.positives + d.negatives);
}

// Why one_se preferred `w` over `c`, the next candidate in one_se's order.
std::string one_se_reason(const RankedTrial& w, const TrialResult& ct, const RankedTrial& c,
                          const std::string& mname, int window) {
  if (compare(w.val_loss, c.val_loss, Goal::minimize) != 0) {
    return fmt::format("the lowest val loss at its selected epoch ({} vs {} for {})",
                       num(w.val_loss), num(c.val_loss), ct.name);
  }
  if (compare(w.metric_stability, c.metric_stability, Goal::minimize) != 0) {
    return fmt::format("the same val loss as {} ({}) and the steadier {} over the last {} "
                       "epochs (standard deviation {} vs {})",
                       ct.name, num(w.val_loss), mname, window, num(w.metric_stability),
                       num(c.metric_stability));
  }
  return fmt::format("the same val loss and steadiness as {} and comes first in the {} order",
                     ct.name, mname);
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
    if (r.requested_rule == SelectionRule::one_se) {
      s += " Rule one_se needs at least two ranked trials to compare, so rule best applied: it "
           "is the only ranked trial.";
    } else {
      s += " It is the only ranked trial.";
    }
  } else if (r.rule == SelectionRule::best) {
    const auto& ru = r.ranked[1];
    const TrialResult& rt = trials[ru.index];
    const Interval* r_iv = ru.ci ? metric_interval(*ru.ci, o.metric) : nullptr;
    s += fmt::format(" Rule best: the best {} wins.", mname);
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
  } else {
    // one_se: the candidates in one_se's order are the winner, then the other candidates.
    const RankedTrial* ref = nullptr;
    const RankedTrial* next = nullptr;  // the candidate one_se would have picked second
    std::size_t candidates = 0;
    std::vector<std::string> unavailable;
    for (const auto& t : r.ranked) {
      if (r.reference && t.index == *r.reference) ref = &t;
      if (t.candidate) ++candidates;
      if (&t != &w && t.candidate) {
        if (next == nullptr || compare(t.val_loss, next->val_loss, Goal::minimize) < 0 ||
            (compare(t.val_loss, next->val_loss, Goal::minimize) == 0 &&
             compare(t.metric_stability, next->metric_stability, Goal::minimize) < 0)) {
          next = &t;
        }
      }
      if (!t.candidate && !t.paired) unavailable.push_back(trials[t.index].name);
    }
    const TrialResult& reft = trials[ref->index];
    s += fmt::format(" Rule one_se (alpha {:g}): ", r.alpha);
    if (candidates == 1) {
      s += fmt::format("{} has the best {} and no other trial's val AUC is within reach (each "
                       "is significantly worse or could not be compared), so it stays.",
                       wt.name, mname);
    } else {
      if (ref == &w) {
        s += fmt::format("{} has the best {}, and among the {} trials whose val AUC is not "
                         "significantly worse than its own it has ",
                         wt.name, mname, candidates);
      } else {
        s += fmt::format("{} has the best {} ({} vs {}), and among the {} trials whose val AUC "
                         "is not significantly worse than {}'s, {} has ",
                         reft.name, mname, num(ref->metric), num(w.metric), candidates,
                         reft.name, wt.name);
      }
      s += one_se_reason(w, trials[next->index], *next, mname, o.stability_window) + ".";
    }
    if (!unavailable.empty()) {
      s += fmt::format(" Not considered because the paired test is unavailable: {}.",
                       join_names(unavailable));
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
    // The winner against rank 2: under one_se the reference is rank 2 whenever it lost.
    const RankedTrial& other = r.ranked[1];
    const std::string& on = trials[other.index].name;
    const bool winner_is_reference = r.reference && w.index == *r.reference;
    const std::optional<DelongResult>& d = winner_is_reference ? other.paired : w.paired;
    if (d) {
      s += paired_sentence(wt.name, on, winner_is_reference ? reversed(*d) : *d);
      if (o.metric != "val_auc") {
        s += fmt::format(" The paired test compares val AUC, not the ranking metric {}.", mname);
      }
    } else {
      s += fmt::format(" No paired test of {} against {}: {}.", wt.name, on,
                       winner_is_reference ? other.paired_note : w.paired_note);
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
  }
  return s;
}

// The predictions of `t` at the selected epoch `epoch`, or nullptr with the reason in `why`.
const Predictions* selected_predictions(const TrialResult& t, int epoch, std::string& why) {
  if (t.best_val_predictions.size() == 0) {
    why = "no validation predictions were stored";
    return nullptr;
  }
  if (t.best_epoch.has_value() && *t.best_epoch != epoch) {
    why = fmt::format("stored predictions are from epoch {}, not the selected epoch {}",
                      *t.best_epoch, epoch);
    return nullptr;
  }
  return &t.best_val_predictions;
}

// Sets `paired`/`paired_note` of every ranked trial against ranked[0] (the reference).
void paired_tests(const std::vector<TrialResult>& trials, Ranking& r, double alpha) {
  if (r.ranked.empty()) return;
  RankedTrial& ref = r.ranked[0];
  const TrialResult& rt = trials[ref.index];
  ref.paired_note = "reference";
  std::string ref_why;
  const Predictions* ref_p = selected_predictions(rt, ref.epoch, ref_why);
  for (std::size_t i = 1; i < r.ranked.size(); ++i) {
    RankedTrial& x = r.ranked[i];
    const TrialResult& xt = trials[x.index];
    std::string why;
    const Predictions* p = selected_predictions(xt, x.epoch, why);
    if (ref_p == nullptr) {
      x.paired_note = fmt::format("{}: {}", rt.name, ref_why);
    } else if (p == nullptr) {
      x.paired_note = fmt::format("{}: {}", xt.name, why);
    } else if (std::string problem = delong_unavailable_reason(*p, *ref_p); !problem.empty()) {
      x.paired_note = fmt::format("{} and {}: {}", xt.name, rt.name, problem);
    } else {
      x.paired = delong_test(*p, *ref_p, alpha);
    }
  }
}

// one_se: marks the candidates and moves the chosen one to the front (the rest keep their
// order). Needs at least two ranked trials.
void apply_one_se(Ranking& r) {
  r.ranked[0].candidate = true;
  for (std::size_t i = 1; i < r.ranked.size(); ++i) {
    auto& x = r.ranked[i];
    x.candidate = x.paired && !(x.paired->significant() && x.paired->difference < 0.0);
  }
  std::size_t best = 0;
  for (std::size_t i = 1; i < r.ranked.size(); ++i) {
    const auto& x = r.ranked[i];
    const auto& b = r.ranked[best];
    if (!x.candidate) continue;
    int c = compare(x.val_loss, b.val_loss, Goal::minimize);
    if (c == 0) c = compare(x.metric_stability, b.metric_stability, Goal::minimize);
    if (c < 0) best = i;  // a full tie keeps the earlier metric position
  }
  std::rotate(r.ranked.begin(), r.ranked.begin() + static_cast<std::ptrdiff_t>(best),
              r.ranked.begin() + static_cast<std::ptrdiff_t>(best) + 1);
}

}  // namespace

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
  if (!(o.selection.alpha > 0.0 && o.selection.alpha < 0.5)) {
    throw std::invalid_argument(fmt::format("rank_trials: selection alpha is {}, expected "
                                            "0 < alpha < 0.5",
                                            o.selection.alpha));
  }
  epoch_metric(EpochRecord{}, o.metric);  // validates the name even with no trial
  Ranking r;
  r.metric = o.metric;
  r.goal = o.goal;
  r.requested_rule = o.selection.rule;
  r.alpha = o.selection.alpha;
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
    if (o.by == EpochChoice::best) rt.epoch_index = best_epoch_index(t.epochs, o.metric, o.goal);
    const EpochRecord& sel = t.epochs[rt.epoch_index];
    rt.epoch = sel.epoch;
    rt.metric = epoch_metric(sel, o.metric);
    rt.val_loss = sel.val.loss;
    rt.stability = spread_of(t, o.stability_window, [](const EpochRecord& e) { return e.val.loss; });
    rt.metric_stability = spread_of(t, o.stability_window, [&](const EpochRecord& e) {
      return epoch_metric(e, o.metric);
    });
    std::string why;
    const Predictions* p = selected_predictions(t, rt.epoch, why);
    if (!o.compute_cis) {
      rt.ci_note = "bootstrap disabled";
    } else if (p == nullptr) {
      rt.ci_note = why;
    } else {
      rt.ci = bootstrap_ci(*p, o.bootstrap);
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
  if (!r.ranked.empty()) r.reference = r.ranked[0].index;
  paired_tests(trials, r, o.selection.alpha);
  if (o.selection.rule == SelectionRule::one_se && r.ranked.size() >= 2) {
    r.rule = SelectionRule::one_se;
    apply_one_se(r);
  }
  for (std::size_t i = 0; i < r.ranked.size(); ++i) r.ranked[i].rank = static_cast<int>(i + 1);
  r.justification = justify(trials, r, o);
  return r;
}

}  // namespace mammosweep::results
