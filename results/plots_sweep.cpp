// The sweep-level charts: parallel coordinates of the parameters against the metric, and the
// optimisation history (plots.h).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "results/plots.h"
#include "results/trial_table.h"

namespace mammosweep::results {

namespace {

std::string f2(double v) { return fmt::format("{:.2f}", v); }

/// The colour of a metric value: from grey-blue (worst) to orange (best).
std::string metric_colour(double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto mix = [&](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * t)); };
  return fmt::format("#{:02x}{:02x}{:02x}", mix(0x6b, 0xe6), mix(0x7f, 0x55), mix(0xb0, 0x0d));
}

std::string short_number(double v) { return fmt::format("{:.3g}", v); }

}  // namespace

std::vector<Series> optimization_history_series(const std::vector<TrialResult>& trials,
                                                const Ranking& ranking) {
  (void)trials;
  std::vector<std::pair<double, double>> points;  // trial number, metric
  for (const auto& r : ranking.ranked) {
    if (std::isfinite(r.metric)) points.emplace_back(static_cast<double>(r.index + 1), r.metric);
  }
  std::sort(points.begin(), points.end());
  Series each, best;
  each.label = "trial";
  each.color = "#1f77b4";
  best.label = "best so far";
  best.color = "#d62728";
  best.markers = false;
  double so_far = NAN;
  for (const auto& [x, y] : points) {
    // A NaN after each point: markers only, no line between trials.
    each.x.insert(each.x.end(), {x, x});
    each.y.insert(each.y.end(), {y, NAN});
    const bool better = std::isnan(so_far) ||
                        (ranking.goal == Goal::maximize ? y > so_far : y < so_far);
    if (better) so_far = y;
    best.x.push_back(x);
    best.y.push_back(so_far);
  }
  return {each, best};
}

std::string optimization_history_svg(const std::vector<TrialResult>& trials,
                                     const Ranking& ranking) {
  ChartOptions o;
  o.title = "Optimisation history";
  o.x_label = "trial number";
  o.y_label = metric_display_name(ranking.metric) + " (selected epoch)";
  o.integer_x = true;
  return line_chart_svg(optimization_history_series(trials, ranking), o);
}

std::string parallel_coordinates_svg(const std::vector<TrialResult>& trials,
                                     const Ranking& ranking) {
  const TrialTable table = trial_table(trials, ranking);
  const std::size_t axes = table.params.size() + 1;  // the metric is the last axis
  const double left = 70, right = 70, top = 60, bottom = 50;
  const int width = std::max(640, static_cast<int>(left + right + 130 * (axes - 1)));
  const int height = 400;
  const double ph = height - top - bottom;
  auto ax = [&](std::size_t k) {
    return axes == 1 ? width / 2.0
                     : left + (width - left - right) * static_cast<double>(k) /
                                  static_cast<double>(axes - 1);
  };
  // Each axis maps its values to [0, 1] (0 at the bottom).
  struct Axis {
    std::string name;
    std::vector<double> pos;  // per row
    std::vector<std::pair<double, std::string>> labels;  // position, text
  };
  std::vector<Axis> all;
  for (const auto& c : table.params) {
    Axis a;
    a.name = c.name;
    if (c.numeric) {
      double lo = *std::min_element(c.values.begin(), c.values.end());
      double hi = *std::max_element(c.values.begin(), c.values.end());
      const bool log = lo > 0 && hi / lo >= 100;
      auto tr = [&](double v) { return log ? std::log10(v) : v; };
      for (double v : c.values) a.pos.push_back((tr(v) - tr(lo)) / (tr(hi) - tr(lo)));
      if (log) a.name += " (log)";
      a.labels = {{0.0, short_number(lo)}, {1.0, short_number(hi)}};
    } else {
      const double n = static_cast<double>(c.categories.size());
      for (double v : c.values) a.pos.push_back(n == 1 ? 0.5 : v / (n - 1));
      for (std::size_t i = 0; i < c.categories.size(); ++i) {
        a.labels.emplace_back(n == 1 ? 0.5 : static_cast<double>(i) / (n - 1), c.categories[i]);
      }
    }
    all.push_back(std::move(a));
  }
  Axis m;
  m.name = metric_display_name(ranking.metric);
  double mlo = 0, mhi = 1;
  if (!table.metric.empty()) {
    mlo = *std::min_element(table.metric.begin(), table.metric.end());
    mhi = *std::max_element(table.metric.begin(), table.metric.end());
  }
  for (double v : table.metric) m.pos.push_back(mhi > mlo ? (v - mlo) / (mhi - mlo) : 0.5);
  m.labels = {{0.0, short_number(mlo)}, {1.0, short_number(mhi)}};
  all.push_back(std::move(m));
  auto py = [&](double pos) { return top + ph * (1.0 - pos); };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << ' ' << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height
      << "\" fill=\"white\"/>\n"
      << "<text x=\"" << f2(width / 2.0) << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" "
      << "font-weight=\"bold\">Parallel coordinates: parameters and "
      << html_escape(metric_display_name(ranking.metric)) << "</text>\n";
  if (table.trial.empty()) {
    svg << "<text x=\"" << f2(width / 2.0) << "\" y=\"" << f2(top + ph / 2)
        << "\" text-anchor=\"middle\">no ranked trial yet</text>\n</svg>\n";
    return svg.str();
  }
  // Trials first (under the axes), worst first so the best are drawn on top.
  std::vector<std::size_t> order(table.trial.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const double sign = ranking.goal == Goal::maximize ? 1.0 : -1.0;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return sign * table.metric[a] < sign * table.metric[b];
  });
  svg << "<g class=\"trials\" fill=\"none\" stroke-width=\"1.5\" stroke-opacity=\"0.8\">\n";
  for (std::size_t row : order) {
    const double goodness = all.back().pos[row];
    svg << "<polyline class=\"trial\" data-trial=\"" << html_escape(trials[table.trial[row]].id)
        << "\" stroke=\"" << metric_colour(sign > 0 ? goodness : 1.0 - goodness) << "\" points=\"";
    for (std::size_t k = 0; k < all.size(); ++k) {
      svg << (k ? " " : "") << f2(ax(k)) << ',' << f2(py(all[k].pos[row]));
    }
    svg << "\"><title>" << html_escape(trials[table.trial[row]].name) << ": "
        << short_number(table.metric[row]) << "</title></polyline>\n";
  }
  svg << "</g>\n<g class=\"axes\">\n";
  for (std::size_t k = 0; k < all.size(); ++k) {
    svg << "<line x1=\"" << f2(ax(k)) << "\" y1=\"" << f2(top) << "\" x2=\"" << f2(ax(k))
        << "\" y2=\"" << f2(top + ph) << "\" stroke=\"black\"/>\n"
        << "<text x=\"" << f2(ax(k)) << "\" y=\"" << f2(top - 12)
        << "\" text-anchor=\"middle\" font-weight=\"bold\">" << html_escape(all[k].name)
        << "</text>\n";
    for (const auto& [pos, text] : all[k].labels) {
      svg << "<text x=\"" << f2(ax(k) + 4) << "\" y=\"" << f2(py(pos) + 4) << "\">"
          << html_escape(text) << "</text>\n";
    }
  }
  svg << "</g>\n</svg>\n";
  return svg.str();
}

}  // namespace mammosweep::results
