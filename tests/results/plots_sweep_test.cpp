// The parallel-coordinates and optimisation-history charts against their data: polylines
// per trial, positions on the metric axis, the best-so-far line computed here independently,
// and well-formed SVG (xmllint, when installed).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>

#include "results/plots.h"
#include "results/ranking.h"
#include "results/trial_table.h"
#include "tests/results/trial_builders.h"
#include "tests/temp_dir.h"

namespace mammosweep::results {
namespace {

using testing::trial;

/// Six trials: lr, optimizer vary; dropout is the same everywhere (no axis); one failed.
std::vector<TrialResult> sweep() {
  const double auc[] = {0.70, 0.82, 0.65, 0.90, 0.88, 0.0};
  const char* lr[] = {"0.0001", "0.001", "1e-05", "0.0003", "0.01", "0.001"};
  const char* opt[] = {"adam", "sgd", "adam", "rmsprop", "sgd", "adam"};
  std::vector<TrialResult> out;
  for (int i = 0; i < 6; ++i) {
    TrialResult t = i == 5 ? trial("t5", {}, {}, TrialStatus::failed)
                           : trial("t" + std::to_string(i), {auc[i] - 0.1, auc[i]}, {0.5, 0.4});
    t.params = {{"lr", lr[i]}, {"optimizer", opt[i]}, {"dropout", "0.5"}};
    out.push_back(t);
  }
  return out;
}

Ranking rank(const std::vector<TrialResult>& trials, Goal goal = Goal::maximize) {
  RankingOptions o;
  o.compute_cis = false;
  o.goal = goal;
  return rank_trials(trials, o);
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

void expect_well_formed(const std::string& svg, const std::string& name) {
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) return;
  test::TempDir dir{"plots_sweep"};
  const std::string path = dir.file(name);
  std::ofstream(path) << svg;
  EXPECT_EQ(std::system(("xmllint --noout " + path).c_str()), 0) << name;
}

TEST(ParallelCoordinates, OnePolylinePerRankedTrialOnTheRightAxes) {
  const auto trials = sweep();
  const Ranking r = rank(trials);
  const std::string svg = parallel_coordinates_svg(trials, r);
  expect_well_formed(svg, "pc.svg");
  EXPECT_EQ(count(svg, "<polyline class=\"trial\""), 5u);  // the failed trial has no line
  EXPECT_THAT(svg, ::testing::HasSubstr(">lr (log)</text>"));  // 1e-5..0.01 spans 1000x
  EXPECT_THAT(svg, ::testing::HasSubstr(">optimizer</text>"));
  EXPECT_EQ(svg.find(">dropout"), std::string::npos);  // the same in every trial
  // Three axes: lr, optimizer, metric. On the metric axis (the last point), y is
  // top + ph * (1 - (auc - min) / (max - min)) with top 60, ph 290, min 0.65, max 0.90.
  const std::regex line("data-trial=\"id-(t[0-9])\"[^>]*points=\"([^\"]*)\"");
  int seen = 0;
  for (std::sregex_iterator it(svg.begin(), svg.end(), line), end; it != end; ++it) {
    const int i = (*it)[1].str()[1] - '0';
    const double auc[] = {0.70, 0.82, 0.65, 0.90, 0.88};
    const std::string points = (*it)[2];
    const double y_metric = std::stod(points.substr(points.rfind(',') + 1));
    EXPECT_NEAR(y_metric, 60 + 290 * (1 - (auc[i] - 0.65) / 0.25), 0.01) << points;
    // lr axis (the first): log10 scale from 1e-5 (bottom) to 1e-2 (top).
    const double lr[] = {1e-4, 1e-3, 1e-5, 3e-4, 1e-2};
    const double y_lr = std::stod(points.substr(points.find(',') + 1));
    EXPECT_NEAR(y_lr, 60 + 290 * (1 - (std::log10(lr[i]) + 5) / 3), 0.01) << points;
    ++seen;
  }
  EXPECT_EQ(seen, 5);
  // The best trial (t3, 0.90) is drawn last, on top.
  EXPECT_GT(svg.rfind("id-t3"), svg.rfind("id-t4"));
}

TEST(ParallelCoordinates, NoRankedTrialSaysSo) {
  std::vector<TrialResult> none{trial("a", {}, {}, TrialStatus::failed)};
  const std::string svg = parallel_coordinates_svg(none, rank(none));
  expect_well_formed(svg, "empty.svg");
  EXPECT_THAT(svg, ::testing::HasSubstr("no ranked trial yet"));
}

TEST(OptimizationHistory, BestSoFarIsTheRunningBestInTrialOrder) {
  for (Goal goal : {Goal::maximize, Goal::minimize}) {
    const auto trials = sweep();
    const Ranking r = rank(trials, goal);
    const auto series = optimization_history_series(trials, r);
    ASSERT_EQ(series.size(), 2u);
    // Independently: the selected epoch's AUC of each trial in input order (epoch 2 when
    // maximizing: 0.70 ... ; epoch 1 when minimizing AUC: auc - 0.1).
    const double auc[] = {0.70, 0.82, 0.65, 0.90, 0.88};
    std::vector<double> x, best;
    double b = NAN;
    for (int i = 0; i < 5; ++i) {
      const double v = goal == Goal::maximize ? auc[i] : auc[i] - 0.1;
      if (std::isnan(b) || (goal == Goal::maximize ? v > b : v < b)) b = v;
      x.push_back(i + 1);
      best.push_back(b);
    }
    EXPECT_EQ(series[1].label, "best so far");
    EXPECT_EQ(series[1].x, x);
    ASSERT_EQ(series[1].y.size(), best.size());
    for (std::size_t i = 0; i < best.size(); ++i) EXPECT_NEAR(series[1].y[i], best[i], 1e-12);
    for (std::size_t i = 1; i < best.size(); ++i) {  // monotone in the goal's direction
      EXPECT_TRUE(goal == Goal::maximize ? best[i] >= best[i - 1] : best[i] <= best[i - 1]);
    }
    const std::string svg = optimization_history_svg(trials, r);
    expect_well_formed(svg, "history.svg");
    EXPECT_EQ(count(svg, "<polyline"), 1u);  // the best-so-far line; trials are markers only
    EXPECT_EQ(count(svg, "<circle"), 5u);    // one marker per ranked trial
  }
}

TEST(Report, HoldsBothSweepCharts) {
  const auto trials = sweep();
  const std::string html = html_report(trials, rank(trials));
  EXPECT_THAT(html, ::testing::HasSubstr("Parallel coordinates"));
  EXPECT_THAT(html, ::testing::HasSubstr("Optimisation history"));
}

}  // namespace
}  // namespace mammosweep::results
