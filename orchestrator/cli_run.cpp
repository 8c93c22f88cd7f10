#include <CLI/CLI.hpp>
#include <iostream>

#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "sweeps/parse.h"
#include "worker/cache.h"
#include "worker/dataset.h"
#include "worker/leakage.h"

namespace mammosweep::orchestrator {

int run_app(CLI::App& app, const std::vector<Command>& commands, int argc, char** argv) {
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
