#include "orchestrator/cli.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace mammosweep::orchestrator {

int run_cli(int argc, char** argv) {
  CLI::App app{kAbout, "mammosweep"};
  app.set_version_flag("--version", std::string("mammosweep ") + MAMMOSWEEP_VERSION +
                                        " (LibTorch " + MAMMOSWEEP_TORCH_VERSION + ")");
  app.require_subcommand(1);
  std::vector<Command> commands{add_plan_command(app), add_status_command(app),
                                add_leaderboard_command(app), add_plot_command(app),
                                add_submit_command(app),  add_run_command(app), add_train_command(app),
                                add_synth_command(app),   add_export_command(app), add_evaluate_command(app),
                                add_predict_command(app), add_check_data_command(app),
                                add_prune_command(app), add_supervise_command(app)};
  return run_app(app, commands, argc, argv);
}

}  // namespace mammosweep::orchestrator
