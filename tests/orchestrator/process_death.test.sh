#!/usr/bin/env bash
# A rank process that dies must not stall the sweep (docs/reliability.md). Under
# `mammosweep supervise -- mpirun -np 3 ... --resume`, the rank running trial B dies of
# SIGSEGV at its second training step every time (MAMMOSWEEP_INJECT_FAILURE=*:B:1:2:segv,
# whichever rank runs it). With `retries: 1`:
#   - launch 1: B's rank dies; mpirun ends the whole job (status 139); supervise relaunches;
#   - launch 2: B is charged its first death and retried; its rank dies again; relaunch;
#   - launch 3: B has died retries + 1 = 2 times: failed with the reason "process died: rank
#     R ... signal 11 ..."; A and C finish.
# A and C, killed mid-epoch as bystanders, must end with the epoch rows of an uninterrupted
# run at full precision (no epoch lost or duplicated). The same with B's rank ended by SIGKILL
# (`:kill`, as the kernel's OOM killer ends it): charged as "ended without seeing a signal".
# Also: a single-process run under
# supervise, and `supervise` itself (relaunch limit, exit codes, signals passed on) with a
# stand-in launch script.
set -uo pipefail
source "$(dirname "$0")/sweep_fixture.sh"
make_data
write_spec "$tmp/spec.yaml" "retries: 1" "resources: {threads: 1}"
common=(--cache-dir "$tmp/cache" --no-progress)

run_reference 6 "${common[@]}"

# supervised_mpi NAME KIND: the sweep under supervise + mpirun -np 3 into $tmp/NAME with B's
# rank dying (KIND segv or kill) every time; exit 0 after exactly 2 relaunches, B failed and
# the rest equal to the reference (sets failed_reason).
supervised_mpi() {
  export MAMMOSWEEP_INJECT_FAILURE="*:B:1:2:$2"
  timeout 600 "$MAMMOSWEEP" supervise --max-relaunches 3 -- "$MPIEXEC" --oversubscribe -np 3 \
    -x MAMMOSWEEP_INJECT_FAILURE "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/$1" \
    "${common[@]}" --resume >"$tmp/$1.log" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || { fail "$1: supervised mpirun exited $rc"; tail -40 "$tmp/$1.log"; }
  [ "$(grep -c "a process died. Relaunching" "$tmp/$1.log")" -eq 2 ] \
    || fail "$1: expected exactly 2 relaunches: $(grep 'mammosweep supervise' "$tmp/$1.log")"
  expect_in "$tmp/$1.log" "process died: rank"
  same_except_failed "$1" "$tmp/$1" B
}

echo "== mpirun -np 3 under supervise; B's rank segfaults every time"
supervised_mpi mpi segv
case "$failed_reason" in
  "process died: rank "*"died of signal 11 ("*") in attempt 2 (2 attempt(s) died; retries: 1;"*) ;;
  *) fail "B's reason: '$failed_reason'" ;;
esac
[ "$(ls "$tmp/mpi/deaths" | wc -l)" -eq 2 ] || fail "expected 2 death notes: $(ls "$tmp/mpi/deaths")"
# --retry-failed gives B one more attempt, which dies too: failed again, the rest untouched.
timeout 300 "$MAMMOSWEEP" supervise --max-relaunches 1 -- "$MPIEXEC" --oversubscribe -np 3 \
  -x MAMMOSWEEP_INJECT_FAILURE "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/mpi" \
  "${common[@]}" --resume --retry-failed >"$tmp/retry.log" 2>&1 \
  || { fail "--retry-failed run exited $?"; tail -30 "$tmp/retry.log"; }
same_except_failed retry "$tmp/mpi" B
case "$failed_reason" in *"in attempt 3 (3 attempt(s) died"*) ;; *) fail "after retry: '$failed_reason'" ;; esac

echo "== one process under supervise"
timeout 600 "$MAMMOSWEEP" supervise -- "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/one" \
  "${common[@]}" --resume >"$tmp/one.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { fail "supervised one-process run exited $rc"; tail -30 "$tmp/one.log"; }
same_except_failed one "$tmp/one" B

echo "== mpirun -np 3 under supervise; B's rank is SIGKILLed (as by the OOM killer) every time"
supervised_mpi kill kill
case "$failed_reason" in
  "process died: rank "*"ended without seeing a signal (SIGKILL"*"in attempt 2 (2 attempt(s) died; retries: 1;"*) ;;
  *) fail "B's reason after SIGKILL: '$failed_reason'" ;;
esac
# Only B's two attempts left notes: the bystanders and the coordinator got mpirun's SIGTERM
# before its SIGKILL and stood down.
[ "$(ls "$tmp/kill/deaths" | wc -l)" -eq 2 ] \
  || fail "SIGKILL: expected B's 2 notes: $(ls "$tmp/kill/deaths")"
unset MAMMOSWEEP_INJECT_FAILURE

echo "== supervise with a stand-in launch"
cat >"$tmp/launch.sh" <<'SH'
#!/usr/bin/env bash
# dies of SIGSEGV while the counter is below $1, then exits with $2; TERM ends it with 3
n=$(( $(cat "$COUNTER" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$COUNTER"
trap 'echo "got TERM" >>"$COUNTER.signals"; exit 3' TERM
if [ "$n" -le "$1" ]; then kill -SEGV $$; fi
if [ "$2" = wait ]; then touch "$COUNTER.waiting"; sleep 30 & wait; fi
exit "$2"
SH
chmod +x "$tmp/launch.sh"
sup() { COUNTER="$tmp/count.$1" "$MAMMOSWEEP" supervise "${@:2}"; }
check "two deaths, then success: relaunched twice, exit 0" 0 sup a --max-relaunches 3 -- "$tmp/launch.sh" 2 0 --resume
[ "$(cat "$tmp/count.a")" -eq 3 ] || fail "expected 3 launches, got $(cat "$tmp/count.a")"
check "more deaths than relaunches: the launch's status 139" 139 sup b --max-relaunches 1 -- "$tmp/launch.sh" 5 0 --resume
[ "$(cat "$tmp/count.b")" -eq 2 ] || fail "expected 2 launches, got $(cat "$tmp/count.b")"
expect_in "$tmp/out" "not relaunching: 1 of 1 relaunches used"
check "an ordinary failure is not relaunched" 4 sup c -- "$tmp/launch.sh" 0 4 --resume
[ "$(cat "$tmp/count.c")" -eq 1 ] || fail "exit 4 was relaunched"
check "a command without --resume is refused" 2 sup d -- "$tmp/launch.sh" 0 0
expect_in "$tmp/err" "add --resume"
check "a launch that cannot start is an error" 2 sup e -- "$tmp/no-such-launcher" --resume
expect_in "$tmp/err" "no-such-launcher"
COUNTER="$tmp/count.f" "$MAMMOSWEEP" supervise -- "$tmp/launch.sh" 0 wait --resume >"$tmp/f.out" 2>&1 &
pid=$!
wait_for 30 test -e "$tmp/count.f.waiting" || fail "the stand-in launch never started"
kill -TERM $pid
wait $pid; rc=$?
[ $rc -eq 3 ] || fail "TERM: supervise exited $rc, expected the launch's 3"
expect_in "$tmp/count.f.signals" "got TERM"
expect_in "$tmp/f.out" "after SIGTERM was passed on to it; not relaunching"
finish
