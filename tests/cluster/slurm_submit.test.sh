#!/usr/bin/env bash
# `mammosweep submit` against a real single-node Slurm (tests/cluster/slurm_harness.sh):
# the dry run, a real submission and its terminal state, and the batch script's USR1 trap:
# checkpoint (exit 3) -> self-requeue -> resumed rerun, for both launchers; scancel never
# requeues; and `status DIR` showing each recorded job's Slurm state.
set -uo pipefail
bin="${MAMMOSWEEP:?}"; src="${MAMMOSWEEP_SOURCE_DIR:?}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=slurm_harness.sh
source "$here/slurm_harness.sh"
tmp="$(mktemp -d)"
trap slurm_test_cleanup EXIT
# shellcheck source=../shell_helpers.sh
source "$here/../shell_helpers.sh"

slurm_start || exit 1
spec="$src/sweeps/week7.yaml"

# --- dry run: the script, with CLI flags beating the spec's slurm: defaults; nothing submitted
check "dry run" 0 "$bin" submit "$spec" --out "$tmp/dry" --dry-run \
  --time 00:05:00 --ntasks-per-node 1 --partition debug --max-requeues 2
for line in "#SBATCH --job-name=mammosweep-week7" "#SBATCH --nodes=1" \
            "#SBATCH --ntasks-per-node=1" "#SBATCH --cpus-per-task=2" "#SBATCH --time=00:05:00" \
            "#SBATCH --partition=debug" "#SBATCH --signal=B:USR1@120" "#SBATCH --requeue" \
            "#SBATCH --open-mode=append" "#SBATCH --output=$tmp/dry/logs/slurm-%j.out" \
            "#SBATCH --error=$tmp/dry/logs/slurm-%j.err" "max_requeues=2" \
            "'$spec' --out '$tmp/dry' --resume"; do
  expect_in "$tmp/out" "$line"
done
grep -q -- "--gpus-per-node" "$tmp/out" && fail "dry run: --gpus-per-node with 0 GPUs"
[ -e "$tmp/dry" ] && fail "dry run created $tmp/dry"
[ -z "$(squeue -h -t all -o %i)" ] || fail "dry run submitted a job: $(squeue -h -t all)"

# --- usage errors submit nothing
printf 'name: bad\ntraining:\n  dropout: 1.5\nvariants: [{name: a}]\n' >"$tmp/bad.yaml"
check "invalid spec" 2 "$bin" submit "$tmp/bad.yaml" --out "$tmp/bad"
expect_in "$tmp/err" "$tmp/bad.yaml:3:12: error"
check "bad --time" 2 "$bin" submit "$spec" --out "$tmp/bad" --time "ninety minutes"
expect_in "$tmp/err" "time: expected HH:MM:SS"
check "out path with a space" 2 "$bin" submit "$spec" --out "$tmp/my sweep"
[ -z "$(squeue -h -t all -o %i)" ] || fail "a usage error submitted a job"

# --- real submission of a sweep that cannot run: its data root does not exist, so the job's
# `mammosweep run` exits 2 (invalid input) and the job is FAILED with ExitCode=2:0, before any
# results.h5 exists. `status DIR` then shows the recorded job alone, with its state from the
# controller. (A sweep that runs to COMPLETED, and its requeue and cancel paths, with the real
# binary: slurm_sweep.test.sh.)
cat >"$tmp/nodata.yaml" <<YAML
name: nodata
data: {root: $tmp/no-such-data, image_size: 32}
training: {epochs: 1, batch_size: 8, dense_units: 16}
variants: [{name: a}]
YAML
out="$tmp/real"
check "submit --wait" 1 timeout 120 "$bin" submit "$tmp/nodata.yaml" --out "$out" \
  --ntasks-per-node 2 --cpus-per-task 1 --time 00:05:00 --wait
id="$(sed -n 's/^submitted job \([0-9]*\) .*/\1/p' "$tmp/out")"
if [ -z "$id" ]; then fail "no job id printed"; cat "$tmp/out"; else
  expect_in "$tmp/out" "job $id: FAILED, exit code 2:0, restarts 0"
  expect_in "$tmp/out" "logs:   $out/logs/slurm-$id.out"
  [ "$(job_field "$id" JobState)" = FAILED ] || fail "scontrol: JobState $(job_field "$id" JobState)"
  [ "$(job_field "$id" ExitCode)" = 2:0 ] || fail "scontrol: ExitCode $(job_field "$id" ExitCode)"
  [ "$(job_field "$id" StdOut)" = "$out/logs/slurm-$id.out" ] || fail "StdOut $(job_field "$id" StdOut)"
  [ "$(cat "$out/slurm_jobs.txt")" = "$id" ] || fail "slurm_jobs.txt: $(cat "$out/slurm_jobs.txt")"
  [ -s "$out/submit.sbatch" ] || fail "no $out/submit.sbatch"
  expect_in "$out/logs/slurm-$id.out" "launcher exited with status 2"
  expect_in "$out/logs/slurm-$id.err" "$tmp/no-such-data"
  [ -e "$out/results.h5" ] && fail "a sweep without data created $out/results.h5"
  check "status of a failed job, no results.h5" 0 "$bin" status "$out"
  expect_in "$tmp/out" "no results.h5 yet"
  expect_in "$tmp/out" "slurm job $id: FAILED, exit code 2:0, restarts 0, reason NonZeroExitCode -- see $out/logs/slurm-$id.out"
  check "status --format json" 0 "$bin" status "$out" --format json
  python3 - "$tmp/out" "$id" <<'PY' || fail "status json: $(cat "$tmp/out")"
import json, sys
j = json.load(open(sys.argv[1]))["slurm_jobs"]
assert len(j) == 1 and j[0]["id"] == sys.argv[2], j
assert (j[0]["status"], j[0]["state"], j[0]["exit_code"], j[0]["restarts"]) == ("failed", "FAILED", 2, 0), j
PY
  # A job id the controller never heard of (or purged after MinJobAge).
  echo 999999 >>"$out/slurm_jobs.txt"
  check "status with an unknown job" 0 "$bin" status "$out"
  expect_in "$tmp/out" "slurm job 999999: unknown to the controller"
  expect_in "$tmp/out" "slurm job $id: FAILED"
fi

# --- status for every Slurm state, through stand-ins for squeue and scontrol (TIMEOUT and
# PREEMPTED take minutes to produce for real). Each line is what the user must be told.
mkdir -p "$tmp/fakebin" "$tmp/emptybin" "$tmp/fake"
cat >"$tmp/fakebin/squeue" <<'EOF'
#!/bin/bash
case "$FAKE_STATE" in
  purged) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1 ;;
  down) echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1 ;;
esac
echo "$FAKE_STATE"
EOF
cat >"$tmp/fakebin/scontrol" <<'EOF'
#!/bin/bash
[ "$FAKE_STATE" = down ] && { echo "slurm_load_jobs error: Unable to contact slurm controller" >&2; exit 1; }
echo "JobId=$4 JobName=mammosweep-x UserId=root(0) JobState=$FAKE_STATE Reason=$FAKE_REASON Dependency=(null) Requeue=1 Restarts=$FAKE_RESTARTS BatchFlag=1 ExitCode=$FAKE_EXIT RunTime=00:01:00"
EOF
chmod +x "$tmp/fakebin/squeue" "$tmp/fakebin/scontrol"
echo 77 >"$tmp/fake/slurm_jobs.txt"
fake_status() {  # fake_status STATE REASON RESTARTS EXIT EXPECTED_LINE
  FAKE_STATE=$1 FAKE_REASON=$2 FAKE_RESTARTS=$3 FAKE_EXIT=$4 PATH="$tmp/fakebin:$PATH" \
    check "status: Slurm state $1" 0 "$bin" status "$tmp/fake"
  expect_in "$tmp/out" "$5"
}
export FAKE_STATE FAKE_REASON FAKE_RESTARTS FAKE_EXIT
fake_status RUNNING None 0 0:0 "slurm job 77: RUNNING, exit code 0:0, restarts 0 -- the sweep is running in this job"
fake_status PENDING Resources 0 0:0 "slurm job 77: PENDING, exit code 0:0, restarts 0, reason Resources -- waiting in the queue"
fake_status PENDING BeginTime 1 0:0 "slurm job 77: PENDING, exit code 0:0, restarts 1, reason BeginTime -- requeued; waiting to start again"
fake_status REQUEUED None 1 0:0 "slurm job 77: REQUEUED, exit code 0:0, restarts 1 -- requeued; it will start again and resume the sweep"
fake_status PREEMPTED None 0 0:15 "slurm job 77: PREEMPTED, exit code 0:15, restarts 0 -- preempted; with PreemptMode=REQUEUE it comes back as PENDING"
fake_status TIMEOUT TimeLimit 3 0:1 "slurm job 77: TIMEOUT, exit code 0:1, restarts 3, reason TimeLimit -- hit its time limit"
fake_status CANCELLED None 0 0:15 "slurm job 77: CANCELLED, exit code 0:15, restarts 0 -- cancelled; submit again with the same --out"
fake_status FAILED NonZeroExitCode 0 3:0 "slurm job 77: FAILED, exit code 3:0, restarts 0, reason NonZeroExitCode -- see $tmp/fake/logs/slurm-77.out"
fake_status COMPLETED None 0 0:0 "slurm job 77: COMPLETED, exit code 0:0, restarts 0 -- the job ended, but the sweep is not finished"
fake_status purged None 0 0:0 "slurm job 77: unknown to the controller"
fake_status down None 0 0:0 "slurm job 77: controller did not answer: cannot query job 77"
PATH="$tmp/emptybin" check "status without a Slurm client" 0 "$bin" status "$tmp/fake"
expect_in "$tmp/out" "slurm job 77: squeue/scontrol not on PATH; state not queried"
rm -f "$tmp/fake/slurm_jobs.txt"
check "status of a folder without results or jobs" 2 "$bin" status "$tmp/fake"

# --- the USR1 trap. A stand-in for `mammosweep run` (passed with --binary, as for a binary at
# another path on the compute nodes) behaves as run is specified to: on USR1 it checkpoints and
# exits 3; a rerun (SLURM_RESTART_COUNT >= 1) resumes and completes. The batch script runs the
# launcher under `BINARY supervise`: the stand-in hands that to the real binary, so the trap's
# signals pass through the real `supervise`.
{ echo '#!/bin/bash'
  echo "[ \"\$1\" = supervise ] && exec '$bin' \"\$@\""; } >"$tmp/fake-mammosweep"
cat >>"$tmp/fake-mammosweep" <<'EOF'
rank="${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-x}}"
[ "$1" = run ] && [ "$3" = --out ] && [ "$5" = --resume ] || { echo "unexpected args: $*" >&2; exit 9; }
out="$4"
if [ "${SLURM_RESTART_COUNT:-0}" -ge 1 ]; then echo "rank $rank resumed"; exit 0; fi
trap 'echo "rank $rank checkpointed"; touch "$out/ckpt.$rank"; exit 3' USR1
trap 'echo "rank $rank checkpointed on TERM"; touch "$out/term.$rank"; exit 3' TERM
touch "$out/started.$rank"
for _ in $(seq 1200); do sleep 0.1; done
exit 0
EOF
chmod +x "$tmp/fake-mammosweep"

submit_bg() {  # submit_bg OUT FLAGS...: `submit --wait` in the background; sets bg_out, job
  local out="$1"; shift
  bg_out="$tmp/bg.$(basename "$out")"
  timeout 180 "$bin" submit "$spec" --out "$out" --binary "$tmp/fake-mammosweep" \
    --ntasks-per-node 2 --cpus-per-task 1 --time 00:05:00 --wait "$@" >"$bg_out" 2>&1 &
  bg_pids+=($!)
  wait_for 30 grep -q "^submitted job" "$bg_out" || { fail "not submitted: $(cat "$bg_out")"; return 1; }
  job="$(sed -n 's/^submitted job \([0-9]*\) .*/\1/p' "$bg_out")"
}

# srun launcher, one requeue allowed: USR1 -> both ranks checkpoint -> requeue -> COMPLETED.
out="$tmp/requeue"
before=$fails
if submit_bg "$out" --max-requeues 1; then
  wait_for 30 test -e "$out/started.0" -a -e "$out/started.1" || fail "ranks did not start"
  check "status while running" 0 "$bin" status "$out"
  expect_in "$tmp/out" "slurm job $job: RUNNING, exit code 0:0, restarts 0 -- the sweep is running"
  scancel -b -s USR1 "$job"
  wait_for 30 test -e "$out/ckpt.0" -a -e "$out/ckpt.1" || fail "ranks did not checkpoint"
  wait_for 30 field_is "$job" Restarts 1 || fail "not requeued"
  check "status while requeued" 0 "$bin" status "$out"
  grep -Eq "slurm job $job: (PENDING|REQUEUED).* restarts 1.* -- requeued" "$tmp/out" \
    || fail "status while requeued: $(cat "$tmp/out")"
  # The rerun starts after the requeue hold (cred_expire, 10 s here). Releasing it early with
  # `scontrol update starttime=now` made the rerun's srun step fail to launch (and exit 0).
  wait "${bg_pids[-1]}"; rc=$?
  [ "$rc" -eq 0 ] || { fail "submit --wait after requeue: exit $rc"; cat "$bg_out"; }
  # (No check for a RUNNING line: the first run may be shorter than the 1 s poll.)
  expect_in "$bg_out" "job $job: COMPLETED, exit code 0:0, restarts 1"
  [ "$(job_field "$job" JobState)" = COMPLETED ] || fail "scontrol: $(job_field "$job" JobState)"
  log="$out/logs/slurm-$job.out"
  # append mode: the first run's lines survive the rerun
  for line in "restart 0: received SIGUSR1" "rank 0 checkpointed" "rank 1 checkpointed" \
              "restart 0: launcher exited with status 3" "requeueing (restart 1 of at most 1)" \
              "rank 0 resumed" "rank 1 resumed" "restart 1: launcher exited with status 0"; do
    expect_in "$log" "$line"
  done
  # The stand-in wrote no results.h5: a COMPLETED job whose sweep did not finish is flagged
  # (srun can exit 0 when its step failed to launch; see docs/slurm.md).
  check "status after the requeued job" 0 "$bin" status "$out"
  expect_in "$tmp/out" "slurm job $job: COMPLETED, exit code 0:0, restarts 1 -- the job ended, but the sweep is not finished"
  [ "$fails" -eq "$before" ] && echo "ok   USR1 -> checkpoint -> requeue -> COMPLETED (srun)"
fi

# scancel (TERM, no USR1 before it): the ranks checkpoint, but a cancelled job is not requeued.
out="$tmp/cancel"
before=$fails
if submit_bg "$out" --max-requeues 3; then
  wait_for 30 test -e "$out/started.0" -a -e "$out/started.1" || fail "ranks did not start"
  scancel "$job"
  wait "${bg_pids[-1]}"
  expect_in "$bg_out" "job $job: CANCELLED"
  sleep 3  # a (wrong) self-requeue would have shown by now
  [ "$(job_field "$job" JobState)" = CANCELLED ] || fail "scancel: JobState $(job_field "$job" JobState)"
  [ "$(job_field "$job" Restarts)" = 0 ] || fail "a cancelled job requeued itself: Restarts $(job_field "$job" Restarts)"
  { [ -e "$out/term.0" ] && [ -e "$out/term.1" ]; } || fail "ranks did not see TERM"
  expect_in "$out/logs/slurm-$job.out" "not requeueing; resume by submitting again"
  check "status of a cancelled job" 0 "$bin" status "$out"
  expect_in "$tmp/out" "slurm job $job: CANCELLED"
  [ "$fails" -eq "$before" ] && echo "ok   scancel -> checkpoint -> CANCELLED, no requeue (srun)"
fi

# mpirun launcher, no requeue left: USR1 -> checkpoint -> exit 3 -> FAILED 3:0.
out="$tmp/norequeue"
before=$fails
if submit_bg "$out" --max-requeues 0 --launcher mpirun; then
  wait_for 30 test -e "$out/started.0" -a -e "$out/started.1" || fail "mpirun ranks did not start"
  scancel -b -s USR1 "$job"
  wait "${bg_pids[-1]}"; rc=$?
  [ "$rc" -eq 1 ] || { fail "submit --wait without requeue: exit $rc, expected 1"; cat "$bg_out"; }
  expect_in "$bg_out" "job $job: FAILED, exit code 3:0, restarts 0"
  { [ -e "$out/ckpt.0" ] && [ -e "$out/ckpt.1" ]; } || fail "mpirun ranks did not checkpoint"
  expect_in "$out/logs/slurm-$job.out" "not requeueing: 0 of 0 requeues used"
  [ "$fails" -eq "$before" ] && echo "ok   USR1 -> checkpoint -> no requeue left -> FAILED 3:0 (mpirun)"
fi

[ "$fails" -eq 0 ] || slurm_logs
echo "$fails failure(s)"
exit $((fails > 0))
