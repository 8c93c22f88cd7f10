#include "results/plots.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "results/metrics.h"

namespace mammosweep::results {
namespace {

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr std::size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

double tick_step(double lo, double hi, int target) {
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double m = norm <= 1.0 ? 1.0 : norm <= 2.0 ? 2.0 : norm <= 5.0 ? 5.0 : 10.0;
  return m * mag;
}

std::string tick_label(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::fabs(v) < step * 1e-9) v = 0.0;  // no "-0.0"
  return fmt::format("{:.{}f}", v, decimals);
}

std::string xml(const std::string& s) { return html_escape(s); }

// Trials with epochs, in ranking order (ranked first, then unranked in input order).
std::vector<const TrialResult*> plotted(const std::vector<TrialResult>& trials,
                                        const Ranking& ranking) {
  std::vector<const TrialResult*> out;
  for (const auto& r : ranking.ranked) out.push_back(&trials.at(r.index));
  for (const auto& u : ranking.unranked) {
    if (!trials.at(u.index).epochs.empty()) out.push_back(&trials.at(u.index));
  }
  return out;
}

template <typename Get>
Series epoch_series(const TrialResult& t, const std::string& label, std::size_t colour,
                    bool dashed, Get get) {
  Series s;
  s.label = label;
  s.color = kPalette[colour % kPaletteSize];
  s.dashed = dashed;
  for (const auto& e : t.epochs) {
    s.x.push_back(e.epoch);
    s.y.push_back(get(e));
  }
  return s;
}

template <typename GetA, typename GetB>
std::string trial_chart(const std::vector<TrialResult>& trials, const Ranking& ranking,
                        const char* solid_name, GetA solid, const char* dashed_name, GetB dashed,
                        ChartOptions o) {
  std::vector<Series> series;
  const auto list = plotted(trials, ranking);
  for (std::size_t i = 0; i < list.size(); ++i) {
    series.push_back(epoch_series(*list[i], list[i]->name + " " + solid_name, i, false, solid));
    series.push_back(epoch_series(*list[i], list[i]->name + " " + dashed_name, i, true, dashed));
  }
  o.integer_x = true;
  o.x_label = "epoch";
  return line_chart_svg(series, o);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    if (lo == 0.0 && hi == 0.0) {
      hi = 1.0;
    } else {
      lo -= 1.0;
      hi += 1.0;
    }
  }
  const double step = tick_step(lo, hi, target);
  // Ticks are k * step; for step < 1 compute k / (1 / step) so that 0.3 is exactly 3 / 10.
  const double inverse = step < 1.0 ? std::round(1.0 / step) : 0.0;
  const auto first = static_cast<long long>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<long long>(std::ceil(hi / step - 1e-9));
  std::vector<double> ticks;
  for (long long k = first; k <= last; ++k) {
    ticks.push_back(inverse > 0.0 ? static_cast<double>(k) / inverse
                                  : static_cast<double>(k) * step);
  }
  return ticks;
}

std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& o) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const auto& s : series) {
    if (s.x.size() != s.y.size()) {
      throw std::invalid_argument(fmt::format("line_chart_svg '{}': series '{}' has {} x values "
                                              "but {} y values, expected the same count",
                                              o.title, s.label, s.x.size(), s.y.size()));
    }
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (std::isnan(s.x[i]) || std::isnan(s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
  }
  if (xlo > xhi) xlo = xhi = 0.0;  // no finite point
  if (ylo > yhi) ylo = yhi = 0.0;
  xlo = o.x_min.value_or(xlo);
  xhi = o.x_max.value_or(xhi);
  ylo = o.y_min.value_or(ylo);
  yhi = o.y_max.value_or(yhi);
  std::vector<double> xt = nice_ticks(xlo, xhi);
  if (o.integer_x) {
    const double step = std::max(1.0, std::round(xt.size() > 1 ? xt[1] - xt[0] : 1.0));
    const double first = std::floor(std::min(xlo, xhi));
    const double last = std::max(std::ceil(xhi), first + 1.0);
    xt.clear();
    for (double v = first; v <= last + 1e-9; v += step) xt.push_back(v);
    if (xt.back() < last) xt.push_back(xt.back() + step);
  }
  const std::vector<double> yt = nice_ticks(ylo, yhi);
  const double x0 = o.x_min ? *o.x_min : xt.front(), x1 = o.x_max ? *o.x_max : xt.back();
  const double y0 = o.y_min ? *o.y_min : yt.front(), y1 = o.y_max ? *o.y_max : yt.back();

  using L = ChartLayout;
  const double pw = o.width - L::left - L::right;
  const double ph = o.height - L::top - L::bottom;
  auto px = [&](double x) { return L::left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return L::top + ph - (y - y0) / (y1 - y0) * ph; };
  auto f = [](double v) { return fmt::format("{:.2f}", v); };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << o.width << "\" height=\""
      << o.height << "\" viewBox=\"0 0 " << o.width << ' ' << o.height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg << "<rect x=\"0\" y=\"0\" width=\"" << o.width << "\" height=\"" << o.height
      << "\" fill=\"white\"/>\n";
  svg << "<text x=\"" << f(o.width / 2.0) << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\""
      << " font-weight=\"bold\">" << xml(o.title) << "</text>\n";
  // Grid and ticks.
  svg << "<g class=\"axes\" stroke=\"#ccc\" stroke-width=\"1\">\n";
  for (double v : yt) {
    if (v < y0 - 1e-9 || v > y1 + 1e-9) continue;
    svg << "<line x1=\"" << f(L::left) << "\" y1=\"" << f(py(v)) << "\" x2=\"" << f(L::left + pw)
        << "\" y2=\"" << f(py(v)) << "\"/>\n";
  }
  for (double v : xt) {
    if (v < x0 - 1e-9 || v > x1 + 1e-9) continue;
    svg << "<line x1=\"" << f(px(v)) << "\" y1=\"" << f(L::top) << "\" x2=\"" << f(px(v))
        << "\" y2=\"" << f(L::top + ph) << "\"/>\n";
  }
  svg << "</g>\n";
  svg << "<rect x=\"" << f(L::left) << "\" y=\"" << f(L::top) << "\" width=\"" << f(pw)
      << "\" height=\"" << f(ph) << "\" fill=\"none\" stroke=\"black\"/>\n";
  svg << "<g class=\"ticks\">\n";
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1.0;
  for (double v : yt) {
    if (v < y0 - 1e-9 || v > y1 + 1e-9) continue;
    svg << "<text x=\"" << f(L::left - 6) << "\" y=\"" << f(py(v) + 4)
        << "\" text-anchor=\"end\">" << tick_label(v, ystep) << "</text>\n";
  }
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1.0;
  for (double v : xt) {
    if (v < x0 - 1e-9 || v > x1 + 1e-9) continue;
    svg << "<text x=\"" << f(px(v)) << "\" y=\"" << f(L::top + ph + 16)
        << "\" text-anchor=\"middle\">" << tick_label(v, xstep) << "</text>\n";
  }
  svg << "</g>\n";
  svg << "<text x=\"" << f(L::left + pw / 2) << "\" y=\"" << f(o.height - 10.0)
      << "\" text-anchor=\"middle\">" << xml(o.x_label) << "</text>\n";
  svg << "<text x=\"14\" y=\"" << f(L::top + ph / 2) << "\" text-anchor=\"middle\" transform=\"rotate(-90 14 "
      << f(L::top + ph / 2) << ")\">" << xml(o.y_label) << "</text>\n";
  if (o.diagonal) {
    svg << "<line class=\"diagonal\" x1=\"" << f(px(std::max(x0, y0))) << "\" y1=\""
        << f(py(std::max(x0, y0))) << "\" x2=\"" << f(px(std::min(x1, y1))) << "\" y2=\""
        << f(py(std::min(x1, y1))) << "\" stroke=\"#999\" stroke-dasharray=\"2,3\"/>\n";
  }
  // Series.
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string colour = s.color.empty() ? kPalette[k % kPaletteSize] : s.color;
    const std::string dash = s.dashed ? " stroke-dasharray=\"6,4\"" : "";
    svg << "<g class=\"series\" stroke=\"" << xml(colour) << "\">\n";
    std::vector<std::pair<double, double>> seg;
    auto flush = [&]() {
      if (seg.size() >= 2) {
        svg << "<polyline fill=\"none\" stroke-width=\"2\"" << dash << " points=\"";
        for (std::size_t i = 0; i < seg.size(); ++i) {
          svg << (i ? " " : "") << f(seg[i].first) << ',' << f(seg[i].second);
        }
        svg << "\"/>\n";
      }
      seg.clear();
    };
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (std::isnan(s.x[i]) || std::isnan(s.y[i])) {
        flush();
        continue;
      }
      seg.emplace_back(px(s.x[i]), py(s.y[i]));
      if (s.markers || s.x.size() == 1) {
        svg << "<circle cx=\"" << f(px(s.x[i])) << "\" cy=\"" << f(py(s.y[i]))
            << "\" r=\"2.5\" fill=\"" << xml(colour) << "\"/>\n";
      }
    }
    flush();
    svg << "</g>\n";
  }
  // Legend.
  svg << "<g class=\"legend\">\n";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string colour = s.color.empty() ? kPalette[k % kPaletteSize] : s.color;
    const double ly = L::top + 8 + 16.0 * static_cast<double>(k);
    const double lx = o.width - L::right + 10;
    svg << "<line x1=\"" << f(lx) << "\" y1=\"" << f(ly) << "\" x2=\"" << f(lx + 20) << "\" y2=\""
        << f(ly) << "\" stroke=\"" << xml(colour) << "\" stroke-width=\"2\""
        << (s.dashed ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
    svg << "<text x=\"" << f(lx + 26) << "\" y=\"" << f(ly + 4) << "\">" << xml(s.label)
        << "</text>\n";
  }
  svg << "</g>\n</svg>\n";
  return svg.str();
}

std::string accuracy_chart_svg(const std::vector<TrialResult>& trials, const Ranking& ranking) {
  ChartOptions o;
  o.title = "Accuracy per epoch (train dashed, val solid)";
  o.y_label = "accuracy";
  o.y_min = 0.0;
  o.y_max = 1.0;
  return trial_chart(
      trials, ranking, "val", [](const EpochRecord& e) { return e.val.accuracy; }, "train",
      [](const EpochRecord& e) { return e.train.accuracy; }, o);
}

std::string precision_recall_chart_svg(const std::vector<TrialResult>& trials,
                                       const Ranking& ranking) {
  ChartOptions o;
  o.title = "Val precision (solid) and recall (dashed) per epoch";
  o.y_label = "precision / recall";
  o.y_min = 0.0;
  o.y_max = 1.0;
  return trial_chart(
      trials, ranking, "precision", [](const EpochRecord& e) { return e.val.precision; },
      "recall", [](const EpochRecord& e) { return e.val.recall; }, o);
}

std::string loss_chart_svg(const std::vector<TrialResult>& trials, const Ranking& ranking) {
  ChartOptions o;
  o.title = "Loss per epoch (train dashed, val solid)";
  o.y_label = "loss";
  o.y_min = 0.0;
  return trial_chart(
      trials, ranking, "val", [](const EpochRecord& e) { return e.val.loss; }, "train",
      [](const EpochRecord& e) { return e.train.loss; }, o);
}

std::optional<std::string> roc_chart_svg(const TrialResult& trial) {
  const auto curve = roc_curve(trial.best_val_predictions);
  if (curve.empty()) return std::nullopt;
  Series s;
  s.label = trial.name;
  s.markers = false;
  for (const auto& p : curve) {
    s.x.push_back(p.fpr);
    s.y.push_back(p.tpr);
  }
  ChartOptions o;
  o.title = fmt::format("ROC curve of {} (val AUC {:.3f})", trial.name,
                        roc_auc(trial.best_val_predictions));
  o.x_label = "false positive rate (1 - specificity)";
  o.y_label = "true positive rate (sensitivity)";
  o.width = 520;
  o.height = 400;
  o.x_min = 0.0;
  o.x_max = 1.0;
  o.y_min = 0.0;
  o.y_max = 1.0;
  o.diagonal = true;
  return line_chart_svg({s}, o);
}

std::string html_report(const std::vector<TrialResult>& trials, const Ranking& ranking,
                        const ReportOptions& options) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>"
    << html_escape(options.title) << "</title>\n<style>\n"
    << "body { font-family: sans-serif; margin: 2em; max-width: 1200px; }\n"
    << "table { border-collapse: collapse; margin: 1em 0; }\n"
    << "th, td { border: 1px solid #ccc; padding: 4px 8px; }\n"
    << "th { background: #f0f0f0; }\n"
    << "td.num { text-align: right; font-variant-numeric: tabular-nums; }\n"
    << ".winner { background: #eef6ee; padding: 1em; border-left: 4px solid #2ca02c; }\n"
    << "</style>\n</head>\n<body>\n";
  h << "<h1>" << html_escape(options.title) << "</h1>\n";
  h << "<h2>Model of the week</h2>\n<p class=\"winner\">" << html_escape(ranking.justification)
    << "</p>\n";
  LeaderboardOptions lo;
  lo.top = options.top;
  lo.tests = options.tests;
  HtmlReporter reporter;
  h << "<h2>Leaderboard</h2>\n";
  reporter.report(build_leaderboard(trials, ranking, lo), h);
  if (!options.tests.empty()) {
    h << "<p class=\"note\">Test columns: the held-out test split, scored by "
         "<code>mammosweep evaluate</code> for the evaluated trial(s) only, at the threshold "
         "chosen on validation. The test split was scored "
      << options.tests.size() << " time(s) in all.</p>\n";
  }
  if (ranking.reference && ranking.ranked.size() >= 2) {
    h << "<p class=\"note\">AUC diff vs ref: the trial's val AUC minus that of "
      << html_escape(trials.at(*ranking.reference).name)
      << " (the reference, first by the ranking metric) on the same validation images, with its "
      << fmt::format("{:.4g}", (1.0 - ranking.alpha) * 100.0)
      << "% confidence interval and the two-sided p-value of DeLong's paired test. Selection "
         "rule: "
      << sweeps::to_string(ranking.rule) << ".</p>\n";
  }
  h << "<h2>Per-epoch comparison</h2>\n";
  lo.view = LeaderboardView::epochs;
  reporter.report(build_leaderboard(trials, ranking, lo), h);
  h << "<h2>Training curves</h2>\n";
  h << "<figure>\n" << accuracy_chart_svg(trials, ranking) << "</figure>\n";
  h << "<figure>\n" << precision_recall_chart_svg(trials, ranking) << "</figure>\n";
  h << "<figure>\n" << loss_chart_svg(trials, ranking) << "</figure>\n";
  h << "<h2>Parameters and the metric</h2>\n";
  h << "<figure>\n" << parallel_coordinates_svg(trials, ranking) << "</figure>\n";
  h << "<figure>\n" << optimization_history_svg(trials, ranking) << "</figure>\n";
  h << "<h2>ROC curve of the model of the week</h2>\n";
  const RankedTrial* w = ranking.winner();
  std::optional<std::string> roc;
  if (w != nullptr) roc = roc_chart_svg(trials.at(w->index));
  if (roc) {
    h << "<figure>\n" << *roc << "</figure>\n";
  } else {
    h << "<p>ROC curve unavailable: no validation predictions with both classes were stored "
         "for the winner.</p>\n";
  }
  h << "</body>\n</html>\n";
  return h.str();
}

}  // namespace mammosweep::results
