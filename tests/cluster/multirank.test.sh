#!/usr/bin/env bash
# Runs the cluster gtest executables under real mpirun with several ranks (CPU, MPI backend).
# Each executable reads its world size at run time (see tests/cluster/mpi_environment.h).
# Env (set by ctest): MAMMOSWEEP = build/orchestrator/mammosweep, MPIEXEC = mpiexec.
set -euo pipefail

: "${MAMMOSWEEP:?MAMMOSWEEP must point at the built CLI (set by ctest)}"
MPIEXEC="${MPIEXEC:-mpiexec}"
bindir="$(cd "$(dirname "$MAMMOSWEEP")/../tests" && pwd)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Quiet, shared-memory-only Open MPI: no network interfaces needed on CI machines.
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1

run() {
  local np=$1 test=$2
  local exe="$bindir/cluster_${test}_test"
  if [[ ! -x "$exe" ]]; then
    echo "FAIL: $exe not built (build target cluster_${test}_test)" >&2
    exit 1
  fi
  echo "== mpirun -np $np cluster_${test}_test"
  # timeout: a collective mismatch hangs rather than fails; turn that into a failure.
  if ! timeout 180 "$MPIEXEC" --allow-run-as-root --oversubscribe -np "$np" "$exe" \
         --gtest_brief=1 --gtest_color=no; then
    echo "FAIL: cluster_${test}_test under -np $np" >&2
    exit 1
  fi
}

run 2 allreduce
run 3 allreduce
run 4 allreduce
run 4 mpi
run 2 mpi
run 3 protocol
echo "multirank: all passed"
