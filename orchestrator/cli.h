#pragma once
// The `mammosweep` command line: git-style subcommands, each in its own cmd_*.cpp.
//
// Exit codes (also in docs/cli.md):
//   0  success
//   1  runtime failure (I/O, training infrastructure, an unexpected error)
//   2  usage error or invalid input (bad flags, an invalid spec, a corrupt file)
//   3  interrupted by a signal; the sweep is resumable with `run --resume`
//   4  the sweep finished but trials failed (only with --fail-on-trial-error)
#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace mammosweep::orchestrator {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
  kExitInterrupted = 3,
  kExitTrialsFailed = 4,
};

inline constexpr const char* kAbout =
    "mammosweep: sweep ResNet50 fine-tuning variants on mammograms and pick the model of the "
    "week.\n\nExit codes: 0 ok, 1 runtime failure, 2 usage or invalid input, 3 interrupted "
    "(resumable), 4 trials failed (--fail-on-trial-error)";

/// A subcommand registers its options on `app` and returns the action to run when chosen.
using Command = std::function<int()>;
Command add_plan_command(CLI::App& app);
Command add_status_command(CLI::App& app);
Command add_leaderboard_command(CLI::App& app);
Command add_plot_command(CLI::App& app);
Command add_submit_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_train_command(CLI::App& app);
Command add_synth_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_evaluate_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_check_data_command(CLI::App& app);
Command add_prune_command(CLI::App& app);
Command add_supervise_command(CLI::App& app);

/// Every command: the program mammosweep-torch (orchestrator/main.cpp).
int run_cli(int argc, char** argv);
/// The commands that only read a sweep's results (status, leaderboard, plot): the program
/// `mammosweep` runs these itself, without LibTorch, and hands every other command line to
/// mammosweep-torch (orchestrator/results_main.cpp).
int run_results_cli(int argc, char** argv);
/// True when argv[1] names one of the commands run_results_cli runs.
bool is_results_command(const char* name);

/// Parses argv, runs the chosen subcommand, maps exceptions to exit codes and messages.
int run_app(CLI::App& app, const std::vector<Command>& commands, int argc, char** argv);

}  // namespace mammosweep::orchestrator
