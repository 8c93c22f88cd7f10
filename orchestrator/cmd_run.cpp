// `mammosweep run SPEC --out DIR`: run (or resume) a sweep.
#include <CLI/CLI.hpp>

#include "orchestrator/cli.h"
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
  cmd->add_option("--set", opt->overrides,
                  "Override a spec value, e.g. --set data.image_size=64 --set training.epochs=3 "
                  "(recorded with the results; a resume must repeat it)");
  cmd->add_option("--data-root", opt->data_root, "Use this dataset folder instead of data.root");
  cmd->add_option("--cache-dir", opt->cache_dir,
                  "Decode-once image cache (default ~/.cache/mammosweep)");
  cmd->add_option("--threads", opt->threads, "Intra-op threads (default: spec, else all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("!--no-progress", opt->progress, "No in-epoch progress bar");
  return [opt, cmd]() {
    if (!cmd->parsed()) return -1;
    install_stop_handlers();
    return run_sweep(*opt);
  };
}

}  // namespace mammosweep::orchestrator
