#!/usr/bin/env bash
# Real sweeps through `mammosweep submit` on a real single-node Slurm (slurm_harness.sh), with
# the real binary and srun --mpi=pmix: 3 ranks (coordinator + 2 workers), the tiny synthetic
# sweep of tests/orchestrator/sweep_fixture.sh. Every result is compared with an uninterrupted
# one-process run at full precision (epochs_of):
#   (a) submit --wait: COMPLETED 0:0, every trial done, a relative data root resolved against
#       the submit directory (--chdir), `status` shows the job id and COMPLETED;
#   (b) USR1 mid-trial (scancel -b -s USR1): checkpoint, exit 3, self-requeue, the rerun
#       resumes and completes; Restarts=1; `status` shows the requeued job waiting;
#   (c) scancel mid-trial, then `mammosweep run --resume` by hand finishes the sweep;
#   (d) a rank dies of SIGSEGV in trial B every time (retries: 1): the batch script's
#       `supervise` relaunches inside the job twice, B ends failed ("process died"), A and C
#       equal the reference, the job COMPLETED.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../orchestrator/sweep_fixture.sh
source "$here/../orchestrator/sweep_fixture.sh"   # tmp, fail, make_data, write_spec, epochs_of, run_reference, same_as_reference
# shellcheck source=slurm_harness.sh
source "$here/slurm_harness.sh"
bin="$MAMMOSWEEP"
trap slurm_test_cleanup EXIT
# no_ranks_left OUT: no process has OUT on its command line any more.
no_ranks_left() { ! pgrep -f -- "--out $1( |$)" >/dev/null; }
# json_job FIELD [INDEX]: a field of `status --format json`'s slurm_jobs[INDEX] (stdin).
json_job() { python3 -c 'import json,sys; print(json.load(sys.stdin)["slurm_jobs"][int(sys.argv[2])][sys.argv[1]])' "$1" "${2:-0}"; }

slurm_start || exit 1
make_data
# threads pinned in the spec: the job's ranks and the reference use the same count.
write_spec "$tmp/spec.yaml" "resources: {threads: 1}"
export XDG_CACHE_HOME="$tmp/xdg"  # the jobs' default cache dir (sbatch exports the environment)
submit_flags=(--binary "$bin" --ntasks-per-node 3 --cpus-per-task 1 --time 00:10:00)

run_reference 6 --no-progress

# submit_bg NAME FLAGS...: `submit --wait` in the background from $tmp; sets out, job, bg_out.
submit_bg() {
  local name=$1; shift
  out="$tmp/$name"; bg_out="$tmp/$name.submit"
  (cd "$tmp" && exec timeout 300 "$bin" submit "$tmp/spec.yaml" --out "$out" \
     "${submit_flags[@]}" --wait "$@") >"$bg_out" 2>&1 &
  bg_pids+=($!)
  wait_for 30 grep -q "^submitted job" "$bg_out" || { fail "$name: not submitted: $(cat "$bg_out")"; return 1; }
  job="$(sed -n 's/^submitted job \([0-9]*\) .*/\1/p' "$bg_out")"
}
first_epoch_in_log() { grep -q " epoch 1/2 " "$out/logs/slurm-$job.out"; }

# ---- (a) submit and finish; the data root is relative: the job runs in the submit directory
echo "== (a) submit --wait: COMPLETED"
sed "s|root: $tmp/data|root: data|" "$tmp/spec.yaml" >"$tmp/relative.yaml"
out="$tmp/a"
(cd "$tmp" && timeout 300 "$bin" submit relative.yaml --out a "${submit_flags[@]}" --wait) \
  >"$tmp/a.submit" 2>&1
rc=$?
ajob="$(sed -n 's/^submitted job \([0-9]*\) .*/\1/p' "$tmp/a.submit")"
[ $rc -eq 0 ] || { fail "(a) submit --wait exited $rc"; cat "$tmp/a.submit" "$out"/logs/* 2>/dev/null; }
expect_in "$tmp/a.submit" "job $ajob: COMPLETED, exit code 0:0, restarts 0"
same_as_reference a "$out"
"$bin" status "$out" >"$tmp/a.status" 2>&1 || fail "(a) status exited $?"
expect_in "$tmp/a.status" "slurm job $ajob: COMPLETED, exit code 0:0, restarts 0 -- finished"
[ "$("$bin" status "$out" --format json | json_job state)" = COMPLETED ] || fail "(a) json state"
grep -q "attempt 1 on rank 2" "$out/logs/slurm-$ajob.out" || fail "(a) rank 2 never trained"
[ "$fails" -eq 0 ] && echo "ok   (a)"
drop_checkpoints "$out"

# ---- (b) USR1 mid-trial -> checkpoint -> exit 3 -> requeue -> resumed rerun completes
echo "== (b) USR1 mid-trial: checkpoint, requeue, resume"
before=$fails
if submit_bg b --max-requeues 1; then
  wait_for 120 first_epoch_in_log || fail "(b) no epoch before the signal"
  scancel -b -s USR1 "$job"
  wait_for 60 field_is "$job" Restarts 1 || fail "(b) not requeued"
  # Requeued and held for cred_expire (10 s): status says so.
  "$bin" status "$out" >"$tmp/b.status" 2>&1
  grep -Eq "slurm job $job: (PENDING|REQUEUED).*restarts 1.* -- requeued" "$tmp/b.status" \
    || fail "(b) status while requeued: $(grep 'slurm job' "$tmp/b.status")"
  wait "${bg_pids[-1]}"; rc=$?
  [ $rc -eq 0 ] || { fail "(b) submit --wait exited $rc"; cat "$bg_out"; }
  expect_in "$bg_out" "job $job: COMPLETED, exit code 0:0, restarts 1"
  log="$out/logs/slurm-$job.out"
  for line in "restart 0: received SIGUSR1" "stop requested: checkpointing" \
              "restart 0: launcher exited with status 3" "requeueing (restart 1 of at most 1)" \
              "resuming after epoch" "restart 1: launcher exited with status 0"; do
    expect_in "$log" "$line"
  done
  same_as_reference b "$out"
  "$bin" status "$out" >"$tmp/b.status" 2>&1
  expect_in "$tmp/b.status" "slurm job $job: COMPLETED, exit code 0:0, restarts 1 -- finished"
  [ "$fails" -eq "$before" ] && echo "ok   (b)"
  drop_checkpoints "$out"
fi

# ---- (c) scancel mid-trial, then resume by hand
echo "== (c) scancel mid-trial, then run --resume by hand"
before=$fails
if submit_bg c; then
  wait_for 120 first_epoch_in_log || fail "(c) no epoch before the cancel"
  scancel "$job"
  wait "${bg_pids[-1]}"
  expect_in "$bg_out" "job $job: CANCELLED"
  wait_for 30 no_ranks_left "$out" || fail "(c) ranks outlived the cancelled job"
  "$bin" status "$out" >"$tmp/c.status" 2>&1
  expect_in "$tmp/c.status" "slurm job $job: CANCELLED"
  expect_in "$tmp/c.status" "cancelled; submit again with the same --out"
  "$bin" run "$tmp/spec.yaml" --out "$out" --resume --no-progress >"$tmp/c.resume.log" 2>&1 \
    || { cat "$tmp/c.resume.log"; fail "(c) resume by hand"; }
  same_as_reference c "$out"
  "$bin" status "$out" >"$tmp/c.status" 2>&1
  expect_in "$tmp/c.status" "slurm job $job: CANCELLED"
  expect_in "$tmp/c.status" "the sweep has finished since"
  [ "$fails" -eq "$before" ] && echo "ok   (c)"
  drop_checkpoints "$out"
fi

# ---- (d) a rank segfaults in trial B every time: the batch script's `supervise` relaunches
# inside the job; B ends failed ("process died"), A and C equal the reference
echo "== (d) a rank dies in B every time: relaunched inside the job, B failed, the rest done"
before=$fails
out="$tmp/d"
sed "s|^seed: 3$|seed: 3\nretries: 1|" "$tmp/spec.yaml" >"$tmp/crash.yaml"
grep -q "^retries: 1$" "$tmp/crash.yaml" || fail "(d) spec edit"
(cd "$tmp" && timeout 400 "$bin" submit "$tmp/crash.yaml" --out "$out" "${submit_flags[@]}" \
   --env 'MAMMOSWEEP_INJECT_FAILURE=*:B:1:2:segv' --wait) >"$tmp/d.submit" 2>&1
rc=$?
djob="$(sed -n 's/^submitted job \([0-9]*\) .*/\1/p' "$tmp/d.submit")"
[ $rc -eq 0 ] || { fail "(d) submit --wait exited $rc"; cat "$tmp/d.submit" "$out"/logs/* 2>/dev/null; }
expect_in "$tmp/d.submit" "job $djob: COMPLETED, exit code 0:0, restarts 0"
log="$out/logs/slurm-$djob.out"
[ "$(grep -c "a process died. Relaunching" "$log")" -eq 2 ] \
  || fail "(d) expected 2 relaunches in the job: $(grep -h 'supervise\|launcher exited' "$log")"
same_except_failed d "$out" B
case "$failed_reason" in
  "process died: rank "*"signal 11 ("*"in attempt 2 (2 attempt(s) died; retries: 1;"*) ;;
  *) fail "(d) B's reason: '$failed_reason'" ;;
esac
[ "$fails" -eq "$before" ] && echo "ok   (d)"

[ "$fails" -eq 0 ] || slurm_logs
echo "$fails failure(s)"
exit $((fails > 0))
