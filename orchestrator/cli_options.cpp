#include "orchestrator/cli_options.h"

#include <CLI/CLI.hpp>

#include "orchestrator/sweep_results.h"
#include "orchestrator/sweep_runner.h"

namespace mammosweep::orchestrator {

void add_sweep_dir_option(CLI::App& cmd, std::string& dir) {
  cmd.add_option("DIR", dir, "Sweep output folder (holds results.h5 and trials/)")->required();
}

void add_ranking_options(CLI::App& cmd, RankingChoice& choice) {
  cmd.add_option("--metric", choice.metric,
                 "Ranking metric, <train|val>_<loss|accuracy|precision|recall|sensitivity|"
                 "specificity|f1|auc> (default: the spec's metric.name)");
  cmd.add_option("--goal", choice.goal,
                 "max or min (default: the spec's goal for its metric, min for *_loss, else max)")
      ->check(CLI::IsMember({"max", "min", "maximize", "minimize"}));
  cmd.add_option("--by", choice.by, "Epoch of each trial: its best or its final epoch")
      ->check(CLI::IsMember({"best", "final"}))
      ->capture_default_str();
  cmd.add_option("--ci-resamples", choice.ci_resamples,
                 "Bootstrap resamples for the 95% confidence intervals (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void add_run_options(CLI::App& cmd, RunOptions& opt) {
  cmd.add_option("--set", opt.overrides,
                 "Override a spec value, e.g. --set data.image_size=64 --set training.epochs=3 "
                 "(recorded with the results; a resume must repeat it)");
  cmd.add_option("--data-root", opt.data_root, "Use this dataset folder instead of data.root");
  cmd.add_option("--cache-dir", opt.cache_dir,
                 "Decode-once image cache (default ~/.cache/mammosweep)");
  cmd.add_option("--threads", opt.threads, "Intra-op threads (default: spec, else all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_flag("!--no-progress", opt.progress, "No in-epoch progress bar");
  cmd.add_flag("--profile", opt.profile,
               "At the end, print where each process's wall time went (docs/performance.md)");
}

}  // namespace mammosweep::orchestrator
