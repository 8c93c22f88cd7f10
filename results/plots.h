#pragma once
// Hand-written SVG line charts and the self-contained HTML report of a sweep.
// No dependencies, no scripts, no network: the report inlines its SVG and CSS.
//
// Every chart has a title, axes with "nice" ticks (steps of 1, 2 or 5 times a power of ten),
// axis labels and a legend on the right. Points with a NaN coordinate break the line.
// Trial charts plot every trial that has epochs, in ranking order (ranked trials first), one
// colour per trial; in the accuracy and loss charts train is dashed and val solid, in the
// precision/recall chart precision is solid and recall dashed (both on the val split).
#include <optional>
#include <string>
#include <vector>

#include "results/leaderboard.h"
#include "results/evaluation.h"
#include "results/ranking.h"
#include "results/records.h"

namespace mammosweep::results {

struct Series {
  std::string label;
  std::vector<double> x, y;  // same length
  std::string color;         // CSS colour; empty = picked from the palette by position
  bool dashed = false;
  bool markers = true;       // a small circle at every point
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 640;
  int height = 360;
  std::optional<double> x_min, x_max, y_min, y_max;  // unset = from the data, widened to ticks
  bool integer_x = false;  // x ticks at whole numbers only (epochs)
  bool diagonal = false;   // dotted y = x line (ROC chance level)
};

/// Plot area inside the SVG: the margins are fixed, the rest is the plot.
struct ChartLayout {
  static constexpr double left = 60, right = 150, top = 40, bottom = 50;
};

/// About `target` tick values covering [lo, hi], step 1, 2 or 5 x 10^k, first <= lo and
/// last >= hi. lo == hi is widened to lo +/- 1 (or 0..1 when both are 0).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

/// One SVG document (<svg xmlns=...>...</svg>). Throws std::invalid_argument when a series
/// has x and y of different lengths.
std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options);

/// Train (dashed) and val (solid) accuracy per epoch of every trial with epochs.
std::string accuracy_chart_svg(const std::vector<TrialResult>& trials, const Ranking& ranking);
/// Val precision (solid) and recall (dashed) per epoch.
std::string precision_recall_chart_svg(const std::vector<TrialResult>& trials,
                                       const Ranking& ranking);
/// Train (dashed) and val (solid) loss per epoch.
std::string loss_chart_svg(const std::vector<TrialResult>& trials, const Ranking& ranking);
/// ROC curve of `trial`'s best_val_predictions, with the chance diagonal; std::nullopt when
/// the predictions are empty or hold one class only.
std::optional<std::string> roc_chart_svg(const TrialResult& trial);

// --- Sweep-level charts (plots_sweep.cpp) ------------------------------------------------

/// The optimisation history's two series: "trial" (the ranking metric at each ranked trial's
/// selected epoch against its trial number, 1-based input order; markers only) and "best so
/// far" (the best of those up to each trial number under ranking.goal).
std::vector<Series> optimization_history_series(const std::vector<TrialResult>& trials,
                                                const Ranking& ranking);
/// optimization_history_series as a line chart.
std::string optimization_history_svg(const std::vector<TrialResult>& trials,
                                     const Ranking& ranking);
/// Parallel coordinates: one vertical axis per parameter that differs between the ranked
/// trials (trial_table.h, name order; numbers scaled min..max, log10 when all are positive
/// and span 100x or more; categories evenly spaced in sorted order) and a last axis for the
/// metric; one <polyline class="trial" data-trial="ID"> per ranked trial with a finite
/// metric, coloured from grey-blue (worst) to orange (best), best drawn last.
std::string parallel_coordinates_svg(const std::vector<TrialResult>& trials,
                                     const Ranking& ranking);

struct ReportOptions {
  std::string title = "mammosweep sweep report";
  int top = 0;  // leaderboard rows, 0 = all
  std::vector<TestEvaluation> tests;  // test-split evaluations: columns for evaluated trials
};

/// A complete HTML page: title, the model-of-the-week justification, the leaderboard, the
/// parameter importance, the per-epoch table and the charts (training curves, ROC, parallel
/// coordinates, optimisation history), all inline.
std::string html_report(const std::vector<TrialResult>& trials, const Ranking& ranking,
                        const ReportOptions& options = {});

}  // namespace mammosweep::results
