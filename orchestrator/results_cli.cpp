// The commands of the program `mammosweep` itself (orchestrator/results_main.cpp): those that
// only read a finished or running sweep. Loading LibTorch costs about 0.6 s of every command
// here (docs/performance.md section 13), more than reading a 1,000-trial results.h5.
#include <CLI/CLI.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "orchestrator/cli.h"

namespace mammosweep::orchestrator {

bool is_results_command(const char* name) {
  for (const char* c : {"status", "leaderboard", "plot"}) {
    if (std::strcmp(name, c) == 0) return true;
  }
  return false;
}

int run_results_cli(int argc, char** argv) {
  CLI::App app{kAbout, "mammosweep"};
  app.require_subcommand(1);
  std::vector<Command> commands{add_status_command(app), add_leaderboard_command(app),
                                add_plot_command(app)};
  return run_app(app, commands, argc, argv);
}

}  // namespace mammosweep::orchestrator
