// `mammosweep plot DIR --out OUTDIR`: SVG training curves, the winner's ROC curve and a
// self-contained HTML report (results/plots.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <optional>

#include "io/files.h"
#include "orchestrator/cli.h"
#include "orchestrator/cli_options.h"
#include "orchestrator/sweep_results.h"
#include "results/plots.h"

namespace mammosweep::orchestrator {

namespace {

struct PlotOptions {
  std::string dir;
  std::string out;
  RankingChoice choice;
  int top = 0;
};

void write_file(const std::string& path, const std::string& text) {
  io::write_file_atomic(path, text);
  std::cout << path << "\n";
}

int plot(const PlotOptions& opt) {
  return with_input_errors([&]() {
    results::SweepSnapshot snap = load_sweep(opt.dir);
    results::Ranking ranking = results::rank_trials(snap.trials, ranking_options(snap, opt.choice));
    io::make_dirs(opt.out);
    auto out = [&](const char* name) { return io::join_path(opt.out, name); };
    write_file(out("accuracy.svg"), results::accuracy_chart_svg(snap.trials, ranking));
    write_file(out("precision_recall.svg"),
               results::precision_recall_chart_svg(snap.trials, ranking));
    write_file(out("loss.svg"), results::loss_chart_svg(snap.trials, ranking));
    write_file(out("parallel_coordinates.svg"),
               results::parallel_coordinates_svg(snap.trials, ranking));
    write_file(out("history.svg"), results::optimization_history_svg(snap.trials, ranking));
    const results::RankedTrial* w = ranking.winner();
    std::optional<std::string> roc;
    if (w != nullptr) roc = results::roc_chart_svg(snap.trials[w->index]);
    if (roc) {
      write_file(out("roc.svg"), *roc);
    } else {
      std::cerr << "roc.svg not written: "
                << (w ? "the model of the week has no stored val predictions with both classes"
                      : "no trial is ranked yet")
                << "\n";
    }
    results::ReportOptions ro;
    if (auto spec = stored_spec(snap.info)) ro.title = "mammosweep sweep report: " + spec->name;
    ro.top = opt.top;
    ro.tests = test_evaluations(snap, opt.dir);
    write_file(out("report.html"), results::html_report(snap.trials, ranking, ro));
    return kExitOk;
  });
}

}  // namespace

Command add_plot_command(CLI::App& app) {
  auto opt = std::make_shared<PlotOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Write SVG training curves, the winner's ROC curve and an HTML report");
  add_sweep_dir_option(*cmd, opt->dir);
  cmd->add_option("--out", opt->out, "Folder for accuracy.svg, precision_recall.svg, loss.svg, "
                                     "roc.svg, parallel_coordinates.svg, history.svg and report.html (created if needed)")
      ->required();
  add_ranking_options(*cmd, opt->choice);
  cmd->add_option("--top", opt->top, "Leaderboard rows in the report (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? plot(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
