#!/usr/bin/env bash
# ctest: cluster.slurm_limits (labels cluster, script, slurm_limits; 3-5 minutes, mostly
# waiting for Slurm's limit checks). Issue 16 part 5, docs/reliability.md ("Slurm"): the
# flakes seen by hand in session 6 and what became of them are listed there.
# What a cluster does to a sweep on its own, on a real single-node Slurm (slurm_harness.sh),
# with nobody sending a signal by hand (slurm_sweep.test.sh sends them with scancel):
#   (d) a real time limit: `submit --time 00:01:00 --max-requeues 1`. Slurm itself sends USR1
#       before the limit; the sweep checkpoints and the job requeues itself; the rerun resumes
#       and meets the limit again (with its one requeue used, the job ends with the resumable
#       exit code 3 before Slurm has to kill it: never TIMEOUT) or finishes; `run --resume`
#       finishes what is left.
#       (Not "requeue until done": Slurm checks limits every ~30 s, so a run can get as little
#       as ~13 s, less than a loaded machine needs to start the sweep; such a job requeues
#       without progress until max_requeues. docs/slurm.md says how to size the limit.)
#       The warning comes at Slurm's first limit check after the job starts, up to ~30 s later
#       (the checks run every 30 s from slurmctld's start). So the sweep must outlast 30 s with
#       a wide margin on the fastest machine: 3 trials x 24 epochs at 64 px, with the
#       one-process reference run beside it (about 75 s quiet; 8 epochs once ended in 21 s,
#       between two checks, and failed).
#   (e) real partition preemption (PreemptType=preempt/partition_prio, PreemptMode=REQUEUE,
#       GraceTime=10, preempt_send_user_signal): a job on the high-priority partition takes
#       every CPU of the node; the sweep's job on the low one is preempted (USR1, checkpoint,
#       requeue), waits, reruns and completes.
# Either way every reported epoch is kept and none is duplicated: the per-epoch metrics equal
# an uninterrupted one-process run's at full precision (epochs_of). Takes minutes: Slurm
# checks time limits about every 30 s and holds a requeued job for cred_expire (10 s).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../orchestrator/sweep_fixture.sh
source "$here/../orchestrator/sweep_fixture.sh"   # tmp, fail, make_data, write_spec, epochs_of, reference_epochs, same_as_reference
# shellcheck source=slurm_harness.sh
source "$here/slurm_harness.sh"
bin="$MAMMOSWEEP"
trap slurm_test_cleanup EXIT

slurm_start || exit 1
make_data
# Long enough that Slurm's first limit check always comes before the sweep ends (see above).
epochs=24
write_spec "$tmp/spec.yaml" "resources: {threads: 1}"
sed -i "s/epochs: 2,/epochs: $epochs,/; s/image_size: 32/image_size: 64/" "$tmp/spec.yaml"
grep -q "epochs: $epochs," "$tmp/spec.yaml" && grep -q "image_size: 64" "$tmp/spec.yaml" \
  || fail "spec: epochs or image size not raised"
export XDG_CACHE_HOME="$tmp/xdg"

# The one-process reference run goes beside (d), which it slows down (all the better for
# (d)); (d) starts once it has built the shared data cache. await_reference waits for it once.
echo "== reference: one process, uninterrupted, beside (d)"
"$bin" run "$tmp/spec.yaml" --out "$tmp/ref" --no-progress >"$tmp/ref.log" 2>&1 &
ref_pid=$!
bg_pids+=("$ref_pid")
wait_for 120 grep -q "^data: " "$tmp/ref.log" || fail "reference: no data summary: $(cat "$tmp/ref.log")"
ref_awaited=0
await_reference() {
  ((ref_awaited)) && return
  ref_awaited=1
  wait "$ref_pid" || { cat "$tmp/ref.log"; fail "reference run"; }
  reference_epochs $((3 * epochs))
}

# submit_wait NAME FLAGS...: `submit --wait` in the background from $tmp; sets out, job, bg_out.
submit_wait() {
  local name=$1; shift
  out="$tmp/$name"; bg_out="$tmp/$name.submit"
  (cd "$tmp" && exec timeout 600 "$bin" submit "$tmp/spec.yaml" --out "$out" --binary "$bin" \
     --ntasks-per-node 3 --cpus-per-task 1 "$@" --wait) >"$bg_out" 2>&1 &
  bg_pids+=($!)
  wait_for 30 grep -q "^submitted job" "$bg_out" || { fail "$name: not submitted: $(cat "$bg_out")"; return 1; }
  job="$(sed -n 's/^submitted job \([0-9]*\) .*/\1/p' "$bg_out")"
}

# ---- (d) the time limit
echo "== (d) --time 00:01:00: Slurm's own USR1, checkpoint, requeue, again, then resume"
before=$fails
if submit_wait d --time 00:01:00 --signal-grace 30 --max-requeues 1; then
  wait "${bg_pids[-1]}" || cat "$out"/logs/*.err
  log="$out/logs/slurm-$job.out"
  [ "$(job_field "$job" Restarts)" = 1 ] || fail "(d) Restarts=$(job_field "$job" Restarts), expected 1"
  # (A rank may die of the warning while still starting up, or in srun's teardown of the
  # step: after a USR1 the script counts any launcher death by a signal as a stop, since
  # every reported epoch is in results.h5; the epoch table below checks exactly that.)
  for line in "restart 0: received SIGUSR1" "requeueing (restart 1 of at most 1)"; do
    expect_in "$log" "$line"
  done
  # The rerun meets the limit too (exit 3, its one requeue used) or, on a fast machine,
  # finishes the sweep first (0:0). Anything else is a failure.
  case "$(job_field "$job" ExitCode)" in
    3:0) expect_in "$log" "restart 1: received SIGUSR1"
         expect_in "$log" "not requeueing: 1 of 1 requeues used" ;;
    0:0) ;;
    *) fail "(d) job ended $(job_field "$job" JobState) $(job_field "$job" ExitCode)" ;;
  esac
  # Slurm never had to kill a run: no TIMEOUT in the job-completion log.
  ! grep "JobId=$job " "$SLURM_TEST_DIR/log/jobcomp.txt" | grep -q "JobState=TIMEOUT" \
    || fail "(d) a run hit the time limit before it checkpointed: $(grep "JobId=$job " "$SLURM_TEST_DIR/log/jobcomp.txt")"
  "$bin" run "$tmp/spec.yaml" --out "$out" --resume --no-progress >"$tmp/d.resume.log" 2>&1 \
    || { cat "$tmp/d.resume.log"; fail "(d) resume by hand"; }
  await_reference
  same_as_reference d "$out"
  [ "$fails" -eq "$before" ] && echo "ok   (d)"
  drop_checkpoints "$out"
fi

await_reference

# ---- (e) preemption by a job on the high-priority partition
echo "== (e) preempted by the high partition, requeued, resumed"
before=$fails
if submit_wait e --partition debug --time 00:10:00 --max-requeues 3; then
  wait_for 300 grep -q " epoch 1/$epochs " "$out/logs/slurm-$job.out" \
    || fail "(e) no epoch before the preemption"
  # 4 tasks: the node's every CPU (SLURM_TEST_CPUS=4), so the sweep's job must give way.
  high="$(sbatch --parsable -p high -n 4 -o "$tmp/high.out" --wrap "sleep 2" | cut -d';' -f1)"
  [ -n "$high" ] || fail "(e) the high-priority job was not submitted"
  [ "$(slurm_wait_state "$high" COMPLETED 120)" = COMPLETED ] || fail "(e) high job did not run"
  # It needed the CPUs the sweep's job held, so that job gave way: it is not finished yet.
  state="$(squeue -h -j "$job" -t all -o %T)"
  [[ "$state" =~ ^(PENDING|REQUEUED|PREEMPTED|RUNNING|CONFIGURING)$ ]] \
    || fail "(e) the sweep's job is $state after the high job ran: it was never preempted"
  wait "${bg_pids[-1]}"; rc=$?
  [ $rc -eq 0 ] || { fail "(e) submit --wait exited $rc"; cat "$bg_out" "$out"/logs/*.err; }
  r="$(job_field "$job" Restarts)"
  [ "${r:-0}" -ge 1 ] || fail "(e) Restarts=$r"
  expect_in "$bg_out" "job $job: COMPLETED, exit code 0:0, restarts $r"
  expect_in "$out/logs/slurm-$job.out" "restart 0: received SIGUSR1"
  expect_in "$out/logs/slurm-$job.out" "resuming after epoch"
  same_as_reference e "$out"
  [ "$fails" -eq "$before" ] && echo "ok   (e) completed after $r restart(s)"
fi

[ "$fails" -eq 0 ] || slurm_logs
echo "$fails failure(s)"
exit $((fails > 0))
