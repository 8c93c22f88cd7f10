#pragma once
// A sweep under mpirun or srun: rank 0 coordinates, ranks 1..N-1 train. The messages they
// exchange are cluster/protocol.h; rank 0's bookkeeping is coordinator.h; where a trial's
// group runs is placement.h.
#include "cluster/mpi.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/sweep_runner.h"

namespace mammosweep::orchestrator {

/// Rank 0: hands queued trials to idle worker ranks (a group of resources.replicas ranks
/// per trial), records every report, and asks running trials to checkpoint when a stop is
/// requested. Returns kExitOk, or kExitInterrupted after a stop.
int coordinate(SweepCoordinator& coord, const cluster::MpiComm& control, int world_size);

/// A worker rank: announces itself, then trains each trial it is assigned (alone or as a
/// member of a data-parallel group) and reports, until rank 0 sends Shutdown.
int work(const RunOptions& opt, const cluster::MpiSession& session,
         const cluster::MpiComm& control, int workers_on_node);

/// Tells every worker to leave its loop, whatever path rank 0 leaves by.
class ShutdownWorkers {
 public:
  ShutdownWorkers(const cluster::MpiComm& control, int size) : control_(control), size_(size) {}
  ~ShutdownWorkers();
  ShutdownWorkers(const ShutdownWorkers&) = delete;
  ShutdownWorkers& operator=(const ShutdownWorkers&) = delete;

 private:
  const cluster::MpiComm& control_;
  int size_;
};

}  // namespace mammosweep::orchestrator
