// `mammosweep plot DIR --out OUTDIR`: SVG training curves, the winner's ROC curve and a
// self-contained HTML report (results/plots.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "results/plots.h"

namespace mammosweep::orchestrator {

namespace {

namespace fs = std::filesystem;

struct PlotOptions {
  std::string dir;
  std::string out;
  RankingChoice choice;
  int top = 0;
};

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) throw std::runtime_error(fmt::format("{}: cannot write", path.string()));
  std::cout << path.string() << "\n";
}

int plot(const PlotOptions& opt) {
  return with_input_errors([&]() {
    results::SweepSnapshot snap = load_sweep(opt.dir);
    results::Ranking ranking = results::rank_trials(snap.trials, ranking_options(snap, opt.choice));
    make_directories(opt.out);
    const fs::path out(opt.out);
    write_file(out / "accuracy.svg", results::accuracy_chart_svg(snap.trials, ranking));
    write_file(out / "precision_recall.svg",
               results::precision_recall_chart_svg(snap.trials, ranking));
    write_file(out / "loss.svg", results::loss_chart_svg(snap.trials, ranking));
    const results::RankedTrial* w = ranking.winner();
    std::optional<std::string> roc;
    if (w != nullptr) roc = results::roc_chart_svg(snap.trials[w->index]);
    if (roc) {
      write_file(out / "roc.svg", *roc);
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
    write_file(out / "report.html", results::html_report(snap.trials, ranking, ro));
    return kExitOk;
  });
}

}  // namespace

Command add_plot_command(CLI::App& app) {
  auto opt = std::make_shared<PlotOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Write SVG training curves, the winner's ROC curve and an HTML report");
  cmd->add_option("DIR", opt->dir, "Sweep output folder (holds results.h5)")->required();
  cmd->add_option("--out", opt->out, "Folder for accuracy.svg, precision_recall.svg, loss.svg, "
                                     "roc.svg and report.html (created if needed)")
      ->required();
  cmd->add_option("--metric", opt->choice.metric,
                  "Ranking metric for the order and the winner (default: the spec's)");
  cmd->add_option("--goal", opt->choice.goal, "max or min (default: as in `leaderboard`)")
      ->check(CLI::IsMember({"max", "min", "maximize", "minimize"}));
  cmd->add_option("--by", opt->choice.by, "Epoch of each trial: its best or its final epoch")
      ->check(CLI::IsMember({"best", "final"}))
      ->capture_default_str();
  cmd->add_option("--top", opt->top, "Leaderboard rows in the report (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--ci-resamples", opt->choice.ci_resamples,
                  "Bootstrap resamples for the confidence intervals (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? plot(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
