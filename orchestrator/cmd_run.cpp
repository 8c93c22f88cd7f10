// `mammosweep run SPEC --out DIR`: run (or resume) a sweep.
#include <CLI/CLI.hpp>

#include "orchestrator/cli.h"
#include "orchestrator/cli_options.h"
#include "orchestrator/sweep_runner.h"

namespace mammosweep::orchestrator {

Command add_run_command(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a sweep (or resume one): train every trial, record each epoch to DIR/results.h5");
  cmd->add_option("SPEC", opt->spec_path, "Sweep spec (YAML)")->required();
  cmd->add_option("--out", opt->out_dir, "Output folder (results.h5, checkpoints)")->required();
  cmd->add_flag("--resume", opt->resume, "Continue the sweep in --out");
  cmd->add_flag("--retry-failed", opt->retry_failed, "On resume, retry failed trials too");
  cmd->add_flag("--allow-spec-change", opt->allow_spec_change,
                "On resume, accept a changed spec and append only its new trials");
  cmd->add_flag("--fail-on-trial-error", opt->fail_on_trial_error,
                "Exit with code 4 when a trial failed");
  add_run_options(*cmd, *opt);
  return [opt, cmd]() {
    if (!cmd->parsed()) return -1;
    install_stop_handlers();
    return run_sweep(*opt);
  };
}

}  // namespace mammosweep::orchestrator
