#!/usr/bin/env bash
# A member of a data-parallel group (replicas: 2) that fails must not leave the other member
# waiting in a collective: the group gives up the trial together, the failure is recorded
# with the failing rank and its reason, the trial is retried, and the sweep goes on.
# Failures are injected with MAMMOSWEEP_INJECT_FAILURE=RANK:TRIAL:EPOCH:STEP (exported to
# every rank with mpirun -x).
set -uo pipefail
source "$(dirname "$0")/sweep_fixture.sh"
make_data
write_spec "$tmp/dp.yaml" "resources: {replicas: 2}" "retries: 1"
common=(--cache-dir "$tmp/cache" --threads 1 --no-progress)

reason_of() {  # reason_of DIR NAME: the recorded failure reason of trial NAME
  "$MAMMOSWEEP" status "$1" --format json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["trials"]:
    if t["name"] == sys.argv[1]:
        print(t.get("reason", ""))
' "$2"
}

# group_run NAME INJECT: run the sweep under mpirun -np 3 (one group: ranks 1 and 2) with
# the given fault, expecting it to finish (not hang) with exit 0.
group_run() {
  local name=$1 inject=$2
  echo "== $name: MAMMOSWEEP_INJECT_FAILURE=$inject"
  MAMMOSWEEP_INJECT_FAILURE=$inject timeout 300 "$MPIEXEC" --oversubscribe -np 3 \
    -x MAMMOSWEEP_INJECT_FAILURE "$MAMMOSWEEP" run "$tmp/dp.yaml" --out "$tmp/$name" \
    "${common[@]}" >"$tmp/$name.log" 2>&1
  local rc=$?
  [ $rc -eq 124 ] && fail "$name: the sweep hung (killed after 300 s)"
  [ $rc -eq 0 ] || { tail -30 "$tmp/$name.log"; fail "$name: exited $rc, expected 0"; }
  status_of "$tmp/$name" >"$tmp/$name.status"
  grep -qx "A failed" "$tmp/$name.status" || fail "$name: A should be failed: $(cat "$tmp/$name.status")"
  grep -qx "B done" "$tmp/$name.status" || fail "$name: B should be done"
  grep -qx "C done" "$tmp/$name.status" || fail "$name: C should be done"
  grep -q "retrying (1 of 1 retries)" "$tmp/$name.log" || fail "$name: A was not retried"
}

# The non-leader (rank 2) fails in the middle of epoch 1, while rank 1 is about to enter the
# gradient allreduce.
group_run member "2:A:1:2"
reason=$(reason_of "$tmp/member" A)
echo "recorded: $reason"
[[ $reason == "exception on rank 2: injected failure at epoch 1, step 2"* ]] \
  || fail "member: reason should name rank 2 and the injected failure, got: $reason"

# The leader (rank 1) fails at the first step of epoch 2: epoch 1 was reported and stays.
group_run leader "1:A:2:1"
reason=$(reason_of "$tmp/leader" A)
echo "recorded: $reason"
[[ $reason == "exception on rank 1: injected failure at epoch 2, step 1"* ]] \
  || fail "leader: reason should name rank 1 and the injected failure, got: $reason"
id_a=$("$MAMMOSWEEP" status "$tmp/leader" --format json | python3 -c '
import json, sys
print(next(t["id"] for t in json.load(sys.stdin)["trials"] if t["name"] == "A"))')
[ "$(epochs_of "$tmp/leader/results.h5" | grep -c "^$id_a ")" -eq 1 ] \
  || fail "leader: A's reported epoch 1 should be kept"

# Resuming with --retry-failed and no fault finishes A with the group.
echo "== resume --retry-failed without the fault"
timeout 300 "$MPIEXEC" --oversubscribe -np 3 "$MAMMOSWEEP" run "$tmp/dp.yaml" --out "$tmp/leader" \
  --resume --retry-failed "${common[@]}" >"$tmp/resume.log" 2>&1 \
  || { tail -30 "$tmp/resume.log"; fail "resume after the group failure"; }
[ "$(status_of "$tmp/leader" | grep -c ' done$')" -eq 3 ] \
  || fail "after resume all three trials should be done: $(status_of "$tmp/leader")"

# One process: the same injection fails the trial on rank 0.
echo "== one process"
write_spec "$tmp/one.yaml"
MAMMOSWEEP_INJECT_FAILURE="0:B:1:1" "$MAMMOSWEEP" run "$tmp/one.yaml" --out "$tmp/one" \
  "${common[@]}" >"$tmp/one.log" 2>&1 || { tail -20 "$tmp/one.log"; fail "one-process run"; }
[[ $(reason_of "$tmp/one" B) == "exception on rank 0: injected failure at epoch 1, step 1"* ]] \
  || fail "one process: B's reason: $(reason_of "$tmp/one" B)"
MAMMOSWEEP_INJECT_FAILURE="bad" "$MAMMOSWEEP" run "$tmp/one.yaml" --out "$tmp/bad" \
  "${common[@]}" >"$tmp/bad.log" 2>&1
[ $? -eq 2 ] && grep -q "expected RANK:TRIAL:EPOCH:STEP" "$tmp/bad.log" \
  || fail "a malformed MAMMOSWEEP_INJECT_FAILURE should exit 2 with the expected format"

echo "$fails failure(s)"
exit $((fails > 0))
