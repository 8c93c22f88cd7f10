#pragma once
// Leaderboards of a sweep in four formats: Markdown (GitHub tables), CSV, JSON and an HTML
// fragment. Shaped like google/benchmark's reporters: build_leaderboard() turns trials and
// their Ranking into one format-neutral LeaderboardTable; one reporter class per format
// renders it.
//
// Views
//   trials (default): one row per trial: rank, name, id, the parameters whose values differ
//     between the listed trials, then the selected epoch, val AUC [CI], val accuracy,
//     sensitivity [CI], specificity [CI], val loss, the paired AUC difference to the
//     reference trial [CI] and its DeLong p-value, and status. CIs and tests come from
//     Ranking. The difference is AUC(trial) - AUC(reference); the reference's row says
//     "reference", an unavailable test "n/a" (csv/json: a `paired_note` column says why).
//   epochs: one row per (trial, epoch): trial, epoch, train acc, val acc, train loss,
//     val loss, val AUC and whether the epoch is the one the ranking selected.
// Rows: ranked trials in rank order (limited to the first `top` when top > 0), then the
//   unranked trials (failed, unfinished, no epoch) in input order.
// Per format
//   md, html: the table holds ranked rows only; unranked and stopped-early trials follow
//     the table as a list "name (id): reason". Missing numbers print as "n/a".
//   csv, json: every row, with `status` and `reason` columns. A CI column `x` becomes
//     x, x_ci_lo, x_ci_hi in CSV and "x": v, "x_ci": [lo, hi] in JSON; parameters are
//     columns named by their path in CSV and one "params" object in JSON. Missing values are
//     empty (CSV) or null (JSON). Numbers keep 6 significant digits.
#include <iosfwd>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "results/evaluation.h"
#include "results/importance.h"
#include "results/ranking.h"
#include "results/records.h"

namespace mammosweep::results {

enum class LeaderboardView { trials, epochs };

struct LeaderboardOptions {
  LeaderboardView view = LeaderboardView::trials;
  int top = 0;     // 0 = every ranked trial; K > 0 = the best K (unranked ones still listed)
  int digits = 3;  // decimals of numbers in md and html
  /// Test-split evaluations (SweepSnapshot::evaluations, parsed). When there are any, the
  /// trials view adds test AUC, sensitivity and specificity [CI] columns, filled only for
  /// the trials evaluated at their selected epoch (the latest evaluation).
  std::vector<TestEvaluation> tests;
  /// Trial id -> the epochs whose weights are still on disk ("3", "4, 5 (+optimizer)",
  /// "none"). When non-empty, the trials view adds a "weights" column before status.
  std::map<std::string, std::string> weights;
};

enum class ColumnKind { text, integer, number, interval, param };

struct LeaderboardColumn {
  std::string key;    // machine name: CSV header, JSON key ("val_auc", "lr", ...)
  std::string title;  // human name: Markdown and HTML header ("val AUC")
  ColumnKind kind = ColumnKind::text;
  bool data_only = false;  // only in csv/json (status is in every format; reason only here)
};

/// One value. text for text/param columns ("" = missing); value (and lo/hi for intervals)
/// for numbers, NaN = missing; integer columns use value too.
struct LeaderboardCell {
  std::string text;
  double value = kNaN;
  double lo = kNaN;
  double hi = kNaN;
};

struct LeaderboardRow {
  bool ranked = false;
  std::vector<LeaderboardCell> cells;  // one per column
};

/// A trial listed below the Markdown/HTML table.
struct LeaderboardNote {
  std::string name, id, status, reason;
};

struct LeaderboardTable {
  LeaderboardView view = LeaderboardView::trials;
  std::string metric;  // ranking metric, for example "val_auc"
  int digits = 3;
  std::vector<LeaderboardColumn> columns;
  std::vector<LeaderboardRow> rows;
  std::vector<LeaderboardNote> notes;
  /// Trials view: parameter importance over every ranked trial (importance.h), also with
  /// --top; empty when there are too few trials.
  std::vector<ParamImportance> importance;
};

/// Builds the table of `options.view`. `ranking` must come from rank_trials(trials, ...).
LeaderboardTable build_leaderboard(const std::vector<TrialResult>& trials, const Ranking& ranking,
                                   const LeaderboardOptions& options = {});

/// Renders a table in one format (reporter interface in the style of google/benchmark).
class LeaderboardReporter {
 public:
  virtual ~LeaderboardReporter() = default;
  virtual void report(const LeaderboardTable& table, std::ostream& out) const = 0;
  /// Short name: "md", "csv", "json" or "html".
  virtual const char* format() const = 0;
};

class MarkdownReporter final : public LeaderboardReporter {
 public:
  void report(const LeaderboardTable& table, std::ostream& out) const override;
  const char* format() const override { return "md"; }
};

class CsvReporter final : public LeaderboardReporter {
 public:
  void report(const LeaderboardTable& table, std::ostream& out) const override;
  const char* format() const override { return "csv"; }
};

class JsonReporter final : public LeaderboardReporter {
 public:
  void report(const LeaderboardTable& table, std::ostream& out) const override;
  const char* format() const override { return "json"; }
};

/// An HTML fragment (a <table class="leaderboard"> and the notes list), no <html> wrapper:
/// plots.h embeds it in the full report.
class HtmlReporter final : public LeaderboardReporter {
 public:
  void report(const LeaderboardTable& table, std::ostream& out) const override;
  const char* format() const override { return "html"; }
};

/// "md" (or "markdown"), "csv", "json", "html"; throws std::invalid_argument otherwise.
std::unique_ptr<LeaderboardReporter> make_reporter(const std::string& format);

/// build_leaderboard + make_reporter(format)->report, as a string.
std::string render_leaderboard(const std::vector<TrialResult>& trials, const Ranking& ranking,
                               const std::string& format, const LeaderboardOptions& options = {});

/// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(const std::string& s);

}  // namespace mammosweep::results
