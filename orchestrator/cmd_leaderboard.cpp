// `mammosweep leaderboard DIR`: rank the trials of a sweep and name the model of the week.
// The rule and the formats are in docs/leaderboard.md (results/ranking.h, leaderboard.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "orchestrator/cli.h"
#include "orchestrator/cli_options.h"
#include "orchestrator/trial_disk.h"
#include "orchestrator/sweep_results.h"
#include "results/leaderboard.h"

namespace mammosweep::orchestrator {

namespace {

struct LeaderboardCmdOptions {
  std::string dir;
  RankingChoice choice;
  std::string format = "md";
  int top = 0;
  bool epochs = false;
  std::string out;
};

/// The leaderboard in `format`, with the model-of-the-week paragraph where the format has
/// room for prose: after the Markdown table and its notes, as a paragraph after the HTML
/// fragment, and as "winner"/"justification" keys in JSON. CSV stays one table.
std::string render(const results::SweepSnapshot& snap, const results::Ranking& ranking,
                   const LeaderboardCmdOptions& opt) {
  results::LeaderboardOptions lo;
  lo.top = opt.top;
  lo.view = opt.epochs ? results::LeaderboardView::epochs : results::LeaderboardView::trials;
  lo.tests = test_evaluations(snap, opt.dir);
  for (const auto& t : snap.trials) lo.weights[t.id] = weights_text(trial_disk(opt.dir, t.id));
  std::string table = results::render_leaderboard(snap.trials, ranking, opt.format, lo);
  const results::RankedTrial* w = ranking.winner();
  const std::string test_note =
      lo.tests.empty() || opt.epochs
          ? std::string()
          : fmt::format("Test columns: the held-out test split scored by `mammosweep evaluate`, "
                        "for the evaluated trial only, at the threshold chosen on validation; "
                        "the test split was scored {} time(s) in all.\n",
                        lo.tests.size());
  if (opt.format == "md" || opt.format == "markdown") {
    return table + (test_note.empty() ? "" : "\n" + test_note) + "\n## Model of the week\n\n" +
           ranking.justification + "\n";
  }
  if (opt.format == "html") {
    return table + "<h2>Model of the week</h2>\n<p class=\"winner\">" +
           results::html_escape(ranking.justification) + "</p>\n";
  }
  if (opt.format == "json") {
    nlohmann::json j = nlohmann::json::parse(table);
    j["winner"] = w ? nlohmann::json{{"id", snap.trials[w->index].id},
                                     {"name", snap.trials[w->index].name}}
                    : nlohmann::json(nullptr);
    j["justification"] = ranking.justification;
    j["test_evaluations"] = lo.tests.size();
    return j.dump(2) + "\n";
  }
  return table;
}

int leaderboard(const LeaderboardCmdOptions& opt) {
  return with_input_errors([&]() {
    if (opt.top < 0) throw InputError(fmt::format("--top {}: expected 0 (all) or more", opt.top));
    results::SweepSnapshot snap = load_sweep(opt.dir);
    results::RankingOptions ro = ranking_options(snap, opt.choice);
    results::Ranking ranking = results::rank_trials(snap.trials, ro);
    std::string text = render(snap, ranking, opt);
    if (opt.out.empty()) {
      std::cout << text;
      return kExitOk;
    }
    std::ofstream f(opt.out, std::ios::binary);
    f << text;
    f.close();
    if (!f) {
      throw std::runtime_error(fmt::format("{}: cannot write the leaderboard", opt.out));
    }
    std::cout << opt.out << "\n";
    return kExitOk;
  });
}

}  // namespace

Command add_leaderboard_command(CLI::App& app) {
  auto opt = std::make_shared<LeaderboardCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "leaderboard", "Rank the trials of a sweep and explain the model of the week");
  add_sweep_dir_option(*cmd, opt->dir);
  add_ranking_options(*cmd, opt->choice);
  cmd->add_option("--format", opt->format, "Output format")
      ->check(CLI::IsMember({"md", "markdown", "csv", "json", "html"}))
      ->capture_default_str();
  cmd->add_option("--top", opt->top, "Show the best K ranked trials (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--epochs", opt->epochs, "Per-epoch view: one row per (trial, epoch)");
  cmd->add_option("--out", opt->out, "Write to FILE instead of stdout");
  return [opt, cmd]() { return cmd->parsed() ? leaderboard(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
