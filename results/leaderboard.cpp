#include "results/leaderboard.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mammosweep::results {
namespace {

using Kind = ColumnKind;

LeaderboardCell text_cell(std::string s) {
  LeaderboardCell c;
  c.text = std::move(s);
  return c;
}
LeaderboardCell num_cell(double v) {
  LeaderboardCell c;
  c.value = v;
  return c;
}
LeaderboardCell interval_cell(double v, const Interval* iv) {
  LeaderboardCell c;
  c.value = v;
  if (iv != nullptr && iv->has_ci()) {
    c.lo = iv->lo;
    c.hi = iv->hi;
  }
  return c;
}

// DeLong's paired comparison with the reference: AUC(trial) - AUC(reference) [CI] and the
// p-value ("reference" on the reference's own row, n/a when unavailable; p < 0.001 shows
// as "<0.001" in md and html while csv and json keep the number).
void paired_cells(const RankedTrial& r, std::vector<LeaderboardCell>& cells) {
  LeaderboardCell diff, p;
  if (r.paired) {
    diff.value = r.paired->difference;
    diff.lo = r.paired->ci_lo;
    diff.hi = r.paired->ci_hi;
    p.value = r.paired->p_value;
    if (p.value < 0.001) p.text = "<0.001";
  } else if (r.paired_note == "reference") {
    diff.text = "reference";
    p.text = "-";
  }
  cells.push_back(diff);
  cells.push_back(p);
}

// Parameters whose value differs between the listed trials (a missing key counts as a value).
std::vector<std::string> differing_params(const std::vector<const TrialResult*>& listed) {
  std::set<std::string> keys;
  for (const auto* t : listed) {
    for (const auto& kv : t->params) keys.insert(kv.first);
  }
  std::vector<std::string> out;
  for (const auto& k : keys) {
    std::set<std::string> values;
    bool missing = false;
    for (const auto* t : listed) {
      auto it = t->params.find(k);
      if (it == t->params.end()) {
        missing = true;
      } else {
        values.insert(it->second);
      }
    }
    if (values.size() + (missing ? 1 : 0) > 1) out.push_back(k);
  }
  return out;
}

std::string note_reason(const TrialResult& t, const UnrankedTrial* u) {
  if (u != nullptr) return u->reason;
  return "stopped early: " +
         (t.failure_reason.empty() ? std::string("no reason recorded") : t.failure_reason);
}

// 6 significant digits, as in CSV and JSON.
std::string short_number(double v) { return fmt::format("{:.6g}", v); }

std::string fixed(double v, int digits) {
  return std::isnan(v) ? std::string("n/a") : fmt::format("{:.{}f}", v, digits);
}

// Human text of a cell for md/html.
std::string display(const LeaderboardColumn& col, const LeaderboardCell& c, int digits) {
  switch (col.kind) {
    case Kind::text:
    case Kind::param:
      return c.text.empty() && col.kind == Kind::param ? std::string("-") : c.text;
    case Kind::integer:
      return std::isnan(c.value) ? std::string("-") : fmt::format("{:.0f}", c.value);
    case Kind::number:
      return !c.text.empty() ? c.text : fixed(c.value, digits);
    case Kind::interval: {
      if (!c.text.empty() && std::isnan(c.value)) return c.text;
      std::string s = fixed(c.value, digits);
      if (!std::isnan(c.lo)) s += " [" + fixed(c.lo, digits) + ", " + fixed(c.hi, digits) + "]";
      return s;
    }
  }
  return c.text;
}

bool numeric(Kind k) { return k == Kind::integer || k == Kind::number || k == Kind::interval; }

std::string md_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n') out += ' ';
    else out += ch;
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

nlohmann::ordered_json json_number(double v) {
  if (std::isnan(v) || std::isinf(v)) return nullptr;
  return std::stod(short_number(v));
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

LeaderboardTable build_leaderboard(const std::vector<TrialResult>& trials, const Ranking& ranking,
                                   const LeaderboardOptions& options) {
  LeaderboardTable table;
  table.view = options.view;
  table.metric = ranking.metric;
  table.digits = options.digits;

  // Which trials are listed, in order.
  std::vector<const RankedTrial*> ranked;
  for (const auto& r : ranking.ranked) {
    if (options.top > 0 && static_cast<int>(ranked.size()) >= options.top) break;
    ranked.push_back(&r);
  }
  std::vector<const TrialResult*> listed;
  for (const auto* r : ranked) listed.push_back(&trials.at(r->index));
  for (const auto& u : ranking.unranked) listed.push_back(&trials.at(u.index));

  for (const auto* r : ranked) {
    const TrialResult& t = trials[r->index];
    if (t.status == TrialStatus::stopped_early) {
      table.notes.push_back({t.name, t.id, to_string(t.status), note_reason(t, nullptr)});
    }
  }
  for (const auto& u : ranking.unranked) {
    const TrialResult& t = trials.at(u.index);
    table.notes.push_back({t.name, t.id, to_string(t.status), note_reason(t, &u)});
  }

  if (options.view == LeaderboardView::trials) {
    const auto params = differing_params(listed);
    table.columns = {{"rank", "rank", Kind::integer}, {"name", "name", Kind::text},
                     {"id", "id", Kind::text}};
    for (const auto& p : params) table.columns.push_back({p, p, Kind::param});
    const std::vector<LeaderboardColumn> metric_cols = {
        {"epoch", "epoch", Kind::integer},
        {"val_auc", "val AUC [95% CI]", Kind::interval},
        {"val_accuracy", "val acc", Kind::number},
        {"val_sensitivity", "sensitivity [95% CI]", Kind::interval},
        {"val_specificity", "specificity [95% CI]", Kind::interval},
        {"val_loss", "val loss", Kind::number},
        {"auc_diff", fmt::format("AUC diff vs ref [{:.4g}% CI]", (1.0 - ranking.alpha) * 100.0),
         Kind::interval},
        {"delong_p", "DeLong p", Kind::number}};
    std::vector<LeaderboardColumn> tail_cols = {
        {"status", "status", Kind::text},
        {"paired_note", "paired test", Kind::text, true},
        {"reason", "reason", Kind::text, true}};
    table.columns.insert(table.columns.end(), metric_cols.begin(), metric_cols.end());
    const bool tested = !options.tests.empty();
    if (tested) {
      table.columns.push_back({"test_auc", "test AUC [95% CI]", Kind::interval});
      table.columns.push_back({"test_sensitivity", "test sensitivity [95% CI]", Kind::interval});
      table.columns.push_back({"test_specificity", "test specificity [95% CI]", Kind::interval});
    }
    const bool weights = !options.weights.empty();
    if (weights) table.columns.push_back({"weights", "weights (epochs)", Kind::text});
    table.columns.insert(table.columns.end(), tail_cols.begin(), tail_cols.end());
    auto add_row = [&](const TrialResult& t, const RankedTrial* r, const std::string& reason) {
      LeaderboardRow row;
      row.ranked = r != nullptr;
      row.cells.push_back(num_cell(r ? r->rank : kNaN));
      row.cells.push_back(text_cell(t.name));
      row.cells.push_back(text_cell(t.id));
      for (const auto& p : params) {
        auto it = t.params.find(p);
        row.cells.push_back(text_cell(it == t.params.end() ? std::string() : it->second));
      }
      if (r != nullptr) {
        const EpochRecord& e = t.epochs[r->epoch_index];
        const BootstrapResult* ci = r->ci ? &*r->ci : nullptr;
        row.cells.push_back(num_cell(r->epoch));
        row.cells.push_back(interval_cell(e.val.auc, ci ? &ci->auc : nullptr));
        row.cells.push_back(num_cell(e.val.accuracy));
        row.cells.push_back(interval_cell(e.val.recall, ci ? &ci->sensitivity : nullptr));
        row.cells.push_back(interval_cell(e.val.specificity, ci ? &ci->specificity : nullptr));
        row.cells.push_back(num_cell(e.val.loss));
        paired_cells(*r, row.cells);
      } else {
        for (int i = 0; i < 8; ++i) row.cells.push_back(LeaderboardCell{});
      }
      if (tested) {
        std::optional<TestEvaluation> test;
        if (r != nullptr) test = latest_evaluation(options.tests, t.id, r->epoch);
        const BootstrapResult* tci = test ? &test->ci : nullptr;
        row.cells.push_back(tci ? interval_cell(tci->auc.point, &tci->auc) : LeaderboardCell{});
        row.cells.push_back(tci ? interval_cell(tci->sensitivity.point, &tci->sensitivity)
                                : LeaderboardCell{});
        row.cells.push_back(tci ? interval_cell(tci->specificity.point, &tci->specificity)
                                : LeaderboardCell{});
      }
      if (weights) {
        auto it = options.weights.find(t.id);
        row.cells.push_back(text_cell(it == options.weights.end() ? "none" : it->second));
      }
      row.cells.push_back(text_cell(to_string(t.status)));
      row.cells.push_back(text_cell(r != nullptr ? r->paired_note : std::string()));
      row.cells.push_back(text_cell(reason));
      table.rows.push_back(std::move(row));
    };
    for (const auto* r : ranked) {
      const TrialResult& t = trials[r->index];
      add_row(t, r, t.status == TrialStatus::stopped_early ? note_reason(t, nullptr) : "");
    }
    for (const auto& u : ranking.unranked) add_row(trials[u.index], nullptr, u.reason);
  } else {
    table.columns = {{"rank", "rank", Kind::integer},
                     {"trial", "trial", Kind::text},
                     {"epoch", "epoch", Kind::integer},
                     {"train_accuracy", "train acc", Kind::number},
                     {"val_accuracy", "val acc", Kind::number},
                     {"train_loss", "train loss", Kind::number},
                     {"val_loss", "val loss", Kind::number},
                     {"val_auc", "val AUC", Kind::number},
                     {"selected", "selected", Kind::text},
                     {"status", "status", Kind::text, true}};
    auto add_rows = [&](const TrialResult& t, const RankedTrial* r) {
      for (std::size_t i = 0; i < t.epochs.size(); ++i) {
        const EpochRecord& e = t.epochs[i];
        LeaderboardRow row;
        row.ranked = r != nullptr;
        row.cells = {num_cell(r ? r->rank : kNaN),
                     text_cell(t.name),
                     num_cell(e.epoch),
                     num_cell(e.train.accuracy),
                     num_cell(e.val.accuracy),
                     num_cell(e.train.loss),
                     num_cell(e.val.loss),
                     num_cell(e.val.auc),
                     text_cell(r && r->epoch_index == i ? "yes" : ""),
                     text_cell(to_string(t.status))};
        table.rows.push_back(std::move(row));
      }
    };
    for (const auto* r : ranked) add_rows(trials[r->index], r);
    for (const auto& u : ranking.unranked) add_rows(trials[u.index], nullptr);
  }
  if (table.view == LeaderboardView::trials) {
    table.importance = parameter_importance(trial_table(trials, ranking));
  }
  return table;
}

namespace {

std::string correlation_text(double c) {
  return std::isnan(c) ? std::string("n/a") : fmt::format("{:+.2f}", c);
}

constexpr const char* kImportanceNote =
    "share of the spread of the ranking metric over the ranked trials that each parameter "
    "explains on its own (one-way ANOVA, epsilon-squared, normalised to sum 1; "
    "docs/leaderboard.md)";

}  // namespace

void MarkdownReporter::report(const LeaderboardTable& table, std::ostream& out) const {
  std::vector<std::size_t> cols;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (!table.columns[i].data_only) cols.push_back(i);
  }
  out << '|';
  for (auto i : cols) out << ' ' << md_escape(table.columns[i].title) << " |";
  out << "\n|";
  for (auto i : cols) out << (numeric(table.columns[i].kind) ? "---:|" : "---|");
  out << '\n';
  for (const auto& row : table.rows) {
    if (!row.ranked) continue;
    out << '|';
    for (auto i : cols) {
      out << ' ' << md_escape(display(table.columns[i], row.cells[i], table.digits)) << " |";
    }
    out << '\n';
  }
  if (!table.notes.empty()) {
    out << "\nNot ranked or stopped early:\n\n";
    for (const auto& n : table.notes) {
      out << "- " << md_escape(n.name) << " (" << md_escape(n.id) << "): " << md_escape(n.reason)
          << '\n';
    }
  }
  if (!table.importance.empty()) {
    out << "\nParameter importance (" << kImportanceNote << "):\n\n"
        << "| parameter | importance | epsilon-squared | rank correlation |\n|---|---:|---:|---:|\n";
    for (const auto& p : table.importance) {
      out << "| " << md_escape(p.name) << " | " << fmt::format("{:.3f}", p.importance) << " | "
          << fmt::format("{:.3f}", p.epsilon_squared) << " | " << correlation_text(p.correlation)
          << " |\n";
    }
  }
}

void CsvReporter::report(const LeaderboardTable& table, std::ostream& out) const {
  bool first = true;
  auto sep = [&]() {
    if (!first) out << ',';
    first = false;
  };
  for (const auto& c : table.columns) {
    sep();
    out << csv_field(c.key);
    if (c.kind == Kind::interval) out << ',' << csv_field(c.key + "_ci_lo") << ',' << csv_field(c.key + "_ci_hi");
  }
  out << '\n';
  auto number = [](double v) { return std::isnan(v) ? std::string() : short_number(v); };
  for (const auto& row : table.rows) {
    first = true;
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const auto& c = row.cells[i];
      sep();
      switch (table.columns[i].kind) {
        case Kind::text:
        case Kind::param: out << csv_field(c.text); break;
        case Kind::integer:
        case Kind::number: out << number(c.value); break;
        case Kind::interval: out << number(c.value) << ',' << number(c.lo) << ',' << number(c.hi); break;
      }
    }
    out << '\n';
  }
}

void JsonReporter::report(const LeaderboardTable& table, std::ostream& out) const {
  using Json = nlohmann::ordered_json;
  Json doc;
  doc["view"] = table.view == LeaderboardView::trials ? "trials" : "epochs";
  doc["metric"] = table.metric;
  Json rows = Json::array();
  for (const auto& row : table.rows) {
    Json obj = Json::object();
    Json params = Json::object();
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const auto& col = table.columns[i];
      const auto& c = row.cells[i];
      switch (col.kind) {
        case Kind::param:
          params[col.key] = c.text.empty() ? Json(nullptr) : Json(c.text);
          if (i + 1 == table.columns.size() || table.columns[i + 1].kind != Kind::param) {
            obj["params"] = params;
          }
          break;
        case Kind::text: obj[col.key] = c.text; break;
        case Kind::integer:
          obj[col.key] = std::isnan(c.value) ? Json(nullptr) : Json(static_cast<long long>(c.value));
          break;
        case Kind::number: obj[col.key] = json_number(c.value); break;
        case Kind::interval:
          obj[col.key] = json_number(c.value);
          obj[col.key + "_ci"] = std::isnan(c.lo) ? Json(nullptr)
                                                  : Json::array({json_number(c.lo), json_number(c.hi)});
          break;
      }
    }
    rows.push_back(std::move(obj));
  }
  doc["rows"] = std::move(rows);
  if (table.view == LeaderboardView::trials) {
    Json imp = Json::array();
    for (const auto& p : table.importance) {
      imp.push_back({{"parameter", p.name},
                     {"importance", json_number(p.importance)},
                     {"epsilon_squared", json_number(p.epsilon_squared)},
                     {"rank_correlation", json_number(p.correlation)},
                     {"groups", p.groups}});
    }
    doc["importance"] = std::move(imp);
  }
  out << doc.dump(2) << '\n';
}

void HtmlReporter::report(const LeaderboardTable& table, std::ostream& out) const {
  std::vector<std::size_t> cols;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (!table.columns[i].data_only) cols.push_back(i);
  }
  out << "<table class=\"leaderboard\">\n<thead>\n<tr>";
  for (auto i : cols) out << "<th>" << html_escape(table.columns[i].title) << "</th>";
  out << "</tr>\n</thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    if (!row.ranked) continue;
    out << "<tr>";
    for (auto i : cols) {
      out << (numeric(table.columns[i].kind) ? "<td class=\"num\">" : "<td>")
          << html_escape(display(table.columns[i], row.cells[i], table.digits)) << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody>\n</table>\n";
  if (!table.notes.empty()) {
    out << "<p>Not ranked or stopped early:</p>\n<ul class=\"notes\">\n";
    for (const auto& n : table.notes) {
      out << "<li>" << html_escape(n.name) << " (" << html_escape(n.id)
          << "): " << html_escape(n.reason) << "</li>\n";
    }
    out << "</ul>\n";
  }
  if (!table.importance.empty()) {
    out << "<h3>Parameter importance</h3>\n<table class=\"importance\">\n<tr><th>parameter</th><th>importance</th>"
           "<th>&#949;&#178;</th><th>rank correlation</th></tr>\n";
    for (const auto& p : table.importance) {
      out << "<tr><td>" << html_escape(p.name) << "</td><td class=\"num\">"
          << fmt::format("{:.3f}", p.importance) << "</td><td class=\"num\">"
          << fmt::format("{:.3f}", p.epsilon_squared) << "</td><td class=\"num\">"
          << correlation_text(p.correlation) << "</td></tr>\n";
    }
    out << "</table>\n<p class=\"note\">Parameter importance: " << kImportanceNote << ".</p>\n";
  }
}

std::unique_ptr<LeaderboardReporter> make_reporter(const std::string& format) {
  if (format == "md" || format == "markdown") return std::make_unique<MarkdownReporter>();
  if (format == "csv") return std::make_unique<CsvReporter>();
  if (format == "json") return std::make_unique<JsonReporter>();
  if (format == "html") return std::make_unique<HtmlReporter>();
  throw std::invalid_argument("unknown leaderboard format '" + format +
                              "' (expected md, csv, json or html)");
}

std::string render_leaderboard(const std::vector<TrialResult>& trials, const Ranking& ranking,
                               const std::string& format, const LeaderboardOptions& options) {
  auto reporter = make_reporter(format);
  std::ostringstream out;
  reporter->report(build_leaderboard(trials, ranking, options), out);
  return out.str();
}

}  // namespace mammosweep::results
