#include "orchestrator/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "orchestrator/sweep_results.h"
#include "sweeps/parse.h"
#include "worker/cache.h"
#include "worker/dataset.h"
#include "worker/leakage.h"

namespace mammosweep::orchestrator {

int run_cli(int argc, char** argv) {
  CLI::App app{"mammosweep: sweep ResNet50 fine-tuning variants on mammograms and pick the "
               "model of the week.\n\nExit codes: 0 ok, 1 runtime failure, 2 usage or invalid "
               "input, 3 interrupted (resumable), 4 trials failed (--fail-on-trial-error)",
               "mammosweep"};
  app.set_version_flag("--version", std::string("mammosweep ") + MAMMOSWEEP_VERSION +
                                        " (LibTorch " + MAMMOSWEEP_TORCH_VERSION + ")");
  app.require_subcommand(1);
  std::vector<Command> commands{add_plan_command(app), add_status_command(app),
                                add_leaderboard_command(app), add_plot_command(app),
                                add_submit_command(app),  add_run_command(app), add_train_command(app),
                                add_synth_command(app),   add_export_command(app), add_evaluate_command(app),
                                add_predict_command(app), add_check_data_command(app),
                                add_prune_command(app), add_supervise_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto& command : commands) {
      if (int rc = command(); rc >= 0) return rc;
    }
    return kExitUsage;
  } catch (const sweeps::SpecError& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  } catch (const InputError& e) {
    std::cerr << "mammosweep: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const worker::DatasetError& e) {  // bad input data: exit 2, as for a bad spec
    std::cerr << "mammosweep: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const worker::LeakageError& e) {
    std::cerr << "mammosweep: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const worker::CacheError& e) {
    std::cerr << "mammosweep: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "mammosweep: error: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace mammosweep::orchestrator
