#!/usr/bin/env bash
# `mammosweep submit` against a real single-node Slurm (tests/cluster/slurm_harness.sh):
# the dry run, a real submission and its terminal state, and the batch script's USR1 trap:
# checkpoint (exit 3) -> self-requeue -> resumed rerun, for both launchers.
set -uo pipefail
bin="${MAMMOSWEEP:?}"; src="${MAMMOSWEEP_SOURCE_DIR:?}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=slurm_harness.sh
source "$here/slurm_harness.sh"
tmp="$(mktemp -d)"
bg_pids=()
cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  slurm_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {  # check NAME EXPECTED_RC COMMAND...   (stdout -> $tmp/out, stderr -> $tmp/err)
  local name="$1" want="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name: exit $rc, expected $want"; cat "$tmp/out" "$tmp/err"
  else echo "ok   $name"; fi
}
expect_in() {  # expect_in FILE TEXT
  grep -qF -- "$2" "$1" || { fail "'$2' not in $1:"; cat "$1"; }
}
wait_for() {  # wait_for TIMEOUT_S COMMAND...: retry every 0.2 s
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" 2>/dev/null; do (( $(date +%s) >= deadline )) && return 1; sleep 0.2; done
}
job_field() {  # job_field ID KEY: one field of `scontrol -o show job` (independent of query_job)
  scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
field_is() { [ "$(job_field "$1" "$2")" = "$3" ]; }  # field_is ID KEY VALUE

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

# --- real submission: accepted, reaches a terminal state, logs under OUT/logs
# The job's `mammosweep run` exits 2 (invalid input: week7.yaml's data root data/week7 does not
# exist under the job's working directory), so the job is FAILED with ExitCode=2:0.
# TODO(run): give this a tiny synthetic-data spec (`mammosweep synth`, 32 px, 1 epoch) and expect
# COMPLETED, exit code 0:0, plus results.h5 in $out with the job id recorded.
out="$tmp/real"
check "submit --wait" 1 timeout 120 "$bin" submit "$spec" --out "$out" --ntasks-per-node 2 \
  --cpus-per-task 1 --time 00:05:00 --wait
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
  [ -f "$out/logs/slurm-$id.err" ] || fail "no $out/logs/slurm-$id.err"
fi

# --- the USR1 trap. A stand-in for `mammosweep run` (passed with --binary, as for a binary at
# another path on the compute nodes) behaves as run is specified to: on USR1 it checkpoints and
# exits 3; a rerun (SLURM_RESTART_COUNT >= 1) resumes and completes.
cat >"$tmp/fake-mammosweep" <<'EOF'
#!/bin/bash
rank="${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-x}}"
[ "$1" = run ] && [ "$3" = --out ] && [ "$5" = --resume ] || { echo "unexpected args: $*" >&2; exit 9; }
out="$4"
if [ "${SLURM_RESTART_COUNT:-0}" -ge 1 ]; then echo "rank $rank resumed"; exit 0; fi
trap 'echo "rank $rank checkpointed"; touch "$out/ckpt.$rank"; exit 3' USR1
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
  scancel -b -s USR1 "$job"
  wait_for 30 test -e "$out/ckpt.0" -a -e "$out/ckpt.1" || fail "ranks did not checkpoint"
  wait_for 30 field_is "$job" Restarts 1 || fail "not requeued"
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
  [ "$fails" -eq "$before" ] && echo "ok   USR1 -> checkpoint -> requeue -> COMPLETED (srun)"
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
