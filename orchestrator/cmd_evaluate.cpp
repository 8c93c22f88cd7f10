// `mammosweep evaluate DIR`: score the model of the week (or --trial) once on the test split.
//
// The model is the one `export` writes (orchestrator/chosen_model.h): the selected epoch's
// weights, the trial's own preprocessing from the effective spec, and the operating
// threshold chosen on VALIDATION by `selection.threshold`, applied unchanged to test.
// Reports AUC, sensitivity, specificity, accuracy and F1 with stratified bootstrap 95% CIs,
// and the confusion matrix. Every run is recorded in results.h5 (/evaluations) with what was
// scored, when and with which threshold; earlier evaluations of the test split are listed
// first, so peeking at test is visible. docs/evaluation.md has the long form.
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/time.h"
#include "orchestrator/chosen_model.h"
#include "orchestrator/cli.h"
#include "orchestrator/cli_options.h"
#include "results/bootstrap.h"
#include "results/evaluation.h"
#include "results/metrics.h"
#include "results/store.h"

namespace mammosweep::orchestrator {

namespace {

struct EvaluateOptions {
  std::string dir;
  std::string trial;
  RankingChoice choice;
  int threads = 1;
  std::string format = "text";
};

std::string fmt3(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "n/a"; }

std::string row(const char* name, const results::Interval& i) {
  return fmt::format("| {} | {} | {} – {} |\n", name, fmt3(i.point), fmt3(i.lo), fmt3(i.hi));
}

int evaluate(const EvaluateOptions& opt) {
  at::set_num_threads(opt.threads);
  return with_input_errors([&]() {
    ChosenModel c = load_chosen_model(opt.dir, opt.choice, opt.trial, opt.threads);
    const results::TrialResult& t = c.trial();
    const results::RankedTrial& ranked = c.ranked();
    std::vector<results::TestEvaluation> earlier;
    for (auto& e : test_evaluations(c.snap, opt.dir)) {
      if (e.split == "test") earlier.push_back(std::move(e));
    }

    worker::Predictor predictor(c.info, c.model, worker::PredictorOptions{opt.threads, 16});
    const results::Predictions test = score_split(predictor, c.spec.data, "test");
    if (test.size() == 0) {
      throw InputError(fmt::format(
          "{}: the sweep's data ({}) has no test split (data.test_split '{}' holds no image); "
          "evaluate needs held-out images that neither trained nor selected the model",
          opt.dir, c.spec.data.root, c.spec.data.test_split));
    }
    results::TestEvaluation ev;
    ev.time = io::iso_utc_now();
    ev.trial_id = t.id;
    ev.trial_name = t.name;
    ev.epoch = ranked.epoch;
    ev.rank = ranked.rank;
    ev.threshold_rule = sweeps::to_string(c.spec.selection.threshold);
    ev.threshold = c.info.threshold;
    ev.images = test.size();
    ev.cm = results::confusion_matrix(test, ev.threshold);
    ev.malignant = static_cast<std::size_t>(ev.cm.tp + ev.cm.fn);
    results::BootstrapOptions bo = c.ranking_options.bootstrap;
    bo.threshold = ev.threshold;
    ev.ci = results::bootstrap_ci(test, bo);
    ev.earlier = earlier.size();
    ev.tool_version = MAMMOSWEEP_VERSION;
    const std::string record = results::to_json(ev);

    {
      std::optional<results::SweepStore> store;
      try {
        store.emplace(results::SweepStore::open_for_append(results::store_path(opt.dir)));
      } catch (const std::exception& e) {
        throw InputError(fmt::format("{}: cannot record the evaluation (is a sweep still "
                                     "running there?): {}",
                                     results::store_path(opt.dir), e.what()));
      }
      store->add_evaluation(record);
      store->close();
    }

    if (opt.format == "json") {
      std::cout << nlohmann::json::parse(record).dump(2) << "\n";
      return static_cast<int>(kExitOk);
    }
    std::string out;
    for (const auto& e : earlier) {
      out += fmt::format("note: the test split was evaluated before: {} for trial {} ({}), "
                         "epoch {}\n", e.time, e.trial_name, e.trial_id, e.epoch);
    }
    const results::BootstrapResult& ci = ev.ci;
    out += fmt::format("# Test-split evaluation: {} ({}), epoch {}{}\n\n", t.name, t.id,
                       ranked.epoch, ranked.rank == 1 ? ", the model of the week" : "");
    out += fmt::format("{} test images ({} malignant, {} benign); threshold {:.4f} chosen on "
                       "validation by `{}`, applied unchanged.\n\n",
                       ev.images, ev.malignant, ev.images - ev.malignant, ev.threshold,
                       ev.threshold_rule);
    out += fmt::format("| metric | value | {:.0f}% CI (bootstrap, {} resamples) |\n|---|---|---|\n",
                       ci.confidence * 100.0, ci.resamples);
    out += row("AUC", ci.auc) + row("sensitivity", ci.sensitivity) +
           row("specificity", ci.specificity) + row("accuracy", ci.accuracy) + row("F1", ci.f1);
    out += fmt::format("\nConfusion matrix: TP {}, FP {}, TN {}, FN {}.\n", ev.cm.tp, ev.cm.fp,
                       ev.cm.tn, ev.cm.fn);
    out += fmt::format("Recorded in {} (evaluation {} of the test split).\n",
                       results::store_path(opt.dir), ev.earlier + 1);
    std::cout << out << std::flush;
    return static_cast<int>(kExitOk);
  });
}

}  // namespace

Command add_evaluate_command(CLI::App& app) {
  auto opt = std::make_shared<EvaluateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate", "Score the model of the week (or --trial) once on the held-out test split");
  add_sweep_dir_option(*cmd, opt->dir);
  cmd->add_option("--trial", opt->trial, "Evaluate this trial (id or name) instead of the winner");
  cmd->add_option("--ci-resamples", opt->choice.ci_resamples,
                  "Bootstrap resamples for the 95% confidence intervals")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--threads", opt->threads, "Threads for decoding and the forward pass")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--format", opt->format, "text (a Markdown table) or json (the stored record)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? evaluate(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
