#!/usr/bin/env bash
# The coordinator's own error while a trial's leader waits for its epoch verdict ends the run
# (no hang), and `run --resume` finishes the sweep with no recorded epoch lost
# (docs/distributed.md, protocol step 6; docs/reliability.md, "A coordinator error").
# Session 12 found the hang in CI by chance: the leader's verdict loop ignored the
# coordinator's Shutdown, and rank 0 waited for it in MPI_Finalize. Here
# MAMMOSWEEP_INJECT_FAILURE=0:B:2:report puts the error exactly there every time: rank 0
# throws as it records trial B's epoch 2, which B's leader has just reported and whose
# verdict it is waiting for. Without the fix this test hangs until its timeout.
set -uo pipefail
source "$(dirname "$0")/sweep_fixture.sh"
make_data
write_spec "$tmp/spec.yaml"
common=(--cache-dir "$tmp/cache" --threads 1 --no-progress)
run_reference 6 "${common[@]}"

echo "== mpirun -np 3, rank 0 fails recording B's epoch 2"
MAMMOSWEEP_INJECT_FAILURE=0:B:2:report timeout 300 "$MPIEXEC" --oversubscribe -np 3 \
  -x MAMMOSWEEP_INJECT_FAILURE "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/mpi" \
  "${common[@]}" >"$tmp/mpi.log" 2>&1
rc=$?
[ $rc -ne 124 ] || fail "the run hung after the coordinator's error (killed by timeout)"
[ $rc -ne 0 ] || fail "the run exited 0 after the coordinator's error"
grep -q "injected failure (MAMMOSWEEP_INJECT_FAILURE) recording epoch 2 of trial B" "$tmp/mpi.log" \
  || fail "the coordinator's error is not in the output: $(tail -5 "$tmp/mpi.log")"
# B's epoch 1 is recorded, its epoch 2 is not (the error came before the write), and B is
# resumable, not failed.
b_epochs="$("$MAMMOSWEEP" status "$tmp/mpi" --format json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["trials"]:
    if t["name"] == "B":
        print(t["status"], t["epochs_done"])')"
[ "$b_epochs" = "running 1" ] || fail "B after the error: '$b_epochs', expected 'running 1'"

echo "== run --resume (one process)"
"$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/mpi" --resume "${common[@]}" >"$tmp/resume.log" 2>&1 \
  || { cat "$tmp/resume.log"; fail "resume"; }
same_as_reference resumed "$tmp/mpi"

echo "== one process: the same error fails trial B (as any error recording an epoch), the rest finish"
MAMMOSWEEP_INJECT_FAILURE=0:B:2:report "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/one" \
  "${common[@]}" >"$tmp/one.log" 2>&1 || { cat "$tmp/one.log"; fail "one process: exit $?"; }
same_except_failed one "$tmp/one" B
[[ $failed_reason == *"injected failure (MAMMOSWEEP_INJECT_FAILURE) recording epoch 2 of trial B"* ]] \
  || fail "one process: B's reason is '$failed_reason'"

# A report failure names rank 0 only: any other rank, or a signal, is a usage error.
for bad in "1:B:2:report" "0:B:2:report:segv"; do
  MAMMOSWEEP_INJECT_FAILURE=$bad "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/bad" \
    "${common[@]}" >"$tmp/bad.log" 2>&1
  rc=$?
  [ $rc -eq 2 ] && grep -q "0:TRIAL:EPOCH:report" "$tmp/bad.log" \
    || fail "MAMMOSWEEP_INJECT_FAILURE=$bad: exit $rc, expected 2 naming the report form"
done
finish
