// `mammosweep train SPEC --trial ID_OR_NAME --out DIR`: one trial, in this process.
#include <CLI/CLI.hpp>

#include "io/files.h"
#include "orchestrator/cli.h"
#include "orchestrator/cli_options.h"
#include "orchestrator/sweep_runner.h"
#include "results/store.h"

namespace mammosweep::orchestrator {

Command add_train_command(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train one trial of a spec in this process (a line per epoch); DIR is a sweep folder "
      "holding just that trial, so status/leaderboard/export work on it and a rerun resumes");
  cmd->add_option("SPEC", opt->spec_path, "Sweep spec (YAML)")->required();
  cmd->add_option("--trial", opt->only_trial, "Trial id or variant name (see `plan`)")
      ->required();
  cmd->add_option("--out", opt->out_dir, "Output folder")->required();
  add_run_options(*cmd, *opt);
  return [opt, cmd]() {
    if (!cmd->parsed()) return -1;
    install_stop_handlers();
    opt->resume = io::file_exists(results::store_path(opt->out_dir));
    return run_sweep(*opt);
  };
}

}  // namespace mammosweep::orchestrator
