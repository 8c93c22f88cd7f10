#pragma once
// What every rank derives from the command line alone, so that rank 0 and the workers agree
// without messages: the spec (--set and --data-root applied), its trials, the data
// preparation options, the threads per training rank, and test fault injection.
#include <string>
#include <vector>

#include "orchestrator/sweep_runner.h"
#include "sweeps/spec.h"
#include "sweeps/trial.h"
#include "worker/data.h"
#include "worker/trainer.h"

namespace mammosweep::orchestrator {

/// MAMMOSWEEP_INJECT_FAILURE=RANK:TRIAL:EPOCH:STEP[:segv|:kill] makes world rank RANK (or
/// any rank for `*`) throw at that training step of trial TRIAL (name or id), or with `:segv`
/// die of SIGSEGV there, with `:kill` of SIGKILL (as the OOM killer ends a process): fault
/// injection for tests and cluster checks. 0:TRIAL:EPOCH:report makes rank 0, which records
/// every epoch, throw as it records that epoch: under mpirun the coordinator fails while the
/// trial's leader waits for its verdict.
struct FaultInjection {
  static constexpr int kAnyRank = -2;
  int rank = -1, epoch = 0, step = 0;
  std::string trial;
  int signal = 0;          // 0: throw
  bool at_report = false;  // STEP was `report`
};

struct Setup {
  sweeps::SweepSpec spec;
  std::vector<sweeps::Trial> trials;
  worker::PrepareOptions prepare;
  int threads = 1;
  FaultInjection fault;
};

/// Throws InputError for a bad MAMMOSWEEP_INJECT_FAILURE or an --only trial that matches
/// no trial (or several); sweeps::SpecError for a bad spec.
Setup make_setup(const RunOptions& opt, int workers_on_node);

/// The trainer's options for one attempt at `trial` on `world_rank`.
worker::TrainerOptions trainer_options(const Setup& s, const RunOptions& opt,
                                       const sweeps::Trial& trial, int resume_epoch,
                                       int world_rank);

}  // namespace mammosweep::orchestrator
