// The program `mammosweep`. `status`, `leaderboard` and `plot` run here, in a program that
// does not load LibTorch (about 0.6 s and 450 MB before main; docs/performance.md section 13).
// Every other command line replaces this process with mammosweep-torch, the program next to
// this one, with the same arguments: the same pid, so mpirun, Slurm and signals see one process.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "io/files.h"
#include "orchestrator/cli.h"

int main(int argc, char** argv) {
  using namespace mammosweep;
  if (argc > 1 && orchestrator::is_results_command(argv[1])) {
    return orchestrator::run_results_cli(argc, argv);
  }
  std::string full;
  try {
    full = io::join_path(io::parent_dir(io::read_link("/proc/self/exe")), "mammosweep-torch");
  } catch (const std::exception& e) {
    std::cerr << "mammosweep: error: cannot locate mammosweep-torch: " << e.what() << "\n";
    return orchestrator::kExitFailure;
  }
  ::execv(full.c_str(), argv);
  std::cerr << "mammosweep: error: cannot run " << full << ": " << std::strerror(errno) << "\n";
  return orchestrator::kExitFailure;
}
