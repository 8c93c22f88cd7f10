# shellcheck shell=bash
# A real single-node Slurm cluster for tests: munged + slurmctld + slurmd, with every file
# (config, state, spool, logs, pid files, munge socket and key) in one temporary folder.
#
# Source it, then:
#   slurm_start              # exports SLURM_CONF and SLURM_TEST_DIR; returns 1 (logs printed) on failure
#   slurm_stop               # cancels all jobs, stops the daemons by pid, removes the folder
#   slurm_logs               # prints the daemon logs (for a failing test)
#   slurm_wait_state ID STATE... [TIMEOUT_S]   # waits until squeue shows one of the states
# A test should `trap slurm_stop EXIT` right after sourcing, so the daemons stop even when the
# test fails or is interrupted. Knobs (environment): SLURM_TEST_CPUS (CPUs the node claims,
# default 4; may exceed the real cores), SLURM_TEST_KEEP=1 (keep the folder for debugging).
# It can also be executed: `bash slurm_harness.sh start` prints the folder (the daemons keep
# running), `bash slurm_harness.sh stop DIR` stops them. Facts behind each setting:
# docs/slurm.md and the team's notes on local Slurm.

_slurm_log() { echo "slurm-harness: $*" >&2; }

# Two distinct free TCP ports, so that concurrent test clusters do not collide.
_slurm_free_ports() {
  python3 - <<'PY'
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# _slurm_wait TIMEOUT_S COMMAND...: retries COMMAND every 0.1 s until it succeeds.
_slurm_wait() {
  local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s%N) / 1000000 > deadline )) && return 1
    sleep 0.1
  done
}

_slurm_node_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null | sort -u)" = "idle" ]; }
_slurm_ctld_up() { scontrol ping 2>/dev/null | grep -q "is UP"; }

slurm_logs() {
  local d="${1:-${SLURM_TEST_DIR:-}}" f
  [ -n "$d" ] || return 0
  for f in "$d"/log/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2
  done
}

slurm_start() {
  local dir host cpus mem ctld_port slurmd_port
  for tool in munged slurmctld slurmd scontrol sinfo sbatch python3; do
    command -v "$tool" >/dev/null || { _slurm_log "missing $tool (install slurmctld slurmd slurm-client munge)"; return 1; }
  done
  dir="$(mktemp -d /tmp/slurm-test.XXXXXX)" || return 1
  chmod 0755 "$dir"   # munged refuses a socket folder that is not 0755
  mkdir -p "$dir"/{state,spool/slurmd,log,run,munge,pmix}
  chmod 0755 "$dir/munge"
  export SLURM_TEST_DIR="$dir" SLURM_CONF="$dir/slurm.conf"
  host="$(hostname -s)"
  cpus="${SLURM_TEST_CPUS:-4}"
  mem="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)"
  mem=$(( ${mem:-1000} * 9 / 10 ))
  read -r ctld_port slurmd_port < <(_slurm_free_ports) || return 1
  # Job ids of their own: every test cluster would otherwise number its jobs from 1, and two
  # clusters running at once (ctest -j2) then give Open MPI the same PMIx namespace
  # (slurm.pmix.1.0) and the same shared-memory segment names, so one job's MPI_Init fails
  # ("shared memory initialization ... open(2) No such file or directory"; launcher exit 1).
  # The free port is unique among running clusters, so its range of 100 ids is too.
  local first_job=$(( ctld_port * 100 ))

  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$dir/munge/munge.key"
  cat >"$SLURM_CONF" <<CONF
ClusterName=ci
FirstJobId=${first_job}
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10,socket=${dir}/munge/munged.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=${dir}/log/jobcomp.txt
SchedulerParameters=sched_interval=2,bf_interval=2
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
KillWait=5
JobRequeue=1
MailProg=/bin/true
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool/slurmd
SlurmctldPidFile=${dir}/run/slurmctld.pid
SlurmdPidFile=${dir}/run/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} Boards=1 SocketsPerBoard=1 CoresPerSocket=${cpus} ThreadsPerCore=1 RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=10
PartitionName=high Nodes=${host} Default=NO MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
CONF
  # The PMIx plugin makes /tmp/spmix_appdir_<uid>_<job>.<step> by default: two test clusters
  # (same job ids) on one host then collide, and the losing step fails to launch.
  echo "PMIxCliTmpDirBase=${dir}/pmix" >"$dir/mpi.conf"

  munged --force --socket="$dir/munge/munged.sock" --key-file="$dir/munge/munge.key" \
    --log-file="$dir/log/munged.log" --pid-file="$dir/run/munged.pid" \
    --seed-file="$dir/munge/munged.seed" \
    || { _slurm_log "munged did not start"; slurm_logs "$dir"; return 1; }
  slurmctld -f "$SLURM_CONF" \
    || { _slurm_log "slurmctld did not start"; slurm_logs "$dir"; return 1; }
  _slurm_wait 15 _slurm_ctld_up \
    || { _slurm_log "slurmctld did not answer scontrol ping within 15 s"; slurm_logs "$dir"; return 1; }
  slurmd -f "$SLURM_CONF" \
    || { _slurm_log "slurmd did not start"; slurm_logs "$dir"; return 1; }
  _slurm_wait 15 _slurm_node_idle \
    || { _slurm_log "node not idle within 15 s: $(sinfo -h -N -o '%T %E' 2>&1)"; slurm_logs "$dir"; return 1; }
  _slurm_log "cluster up in $dir (slurmctld port $ctld_port)"
}

# _slurm_kill_pidfile FILE NAME: stops the daemon whose pid is in FILE, if it is still NAME.
_slurm_kill_pidfile() {
  local file="$1" name="$2" pid state
  [ -s "$file" ] || return 0
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  _slurm_alive() {
    [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)"
    [ "$state" != "Z" ] && [ -n "$state" ]   # a zombie is dead
  }
  _slurm_alive "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do _slurm_alive "$pid" "$name" || return 0; sleep 0.1; done
  _slurm_log "$name ($pid) ignored SIGTERM for 5 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null
}

slurm_stop() {
  local dir="${1:-${SLURM_TEST_DIR:-}}"
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  local conf="$dir/slurm.conf"
  if [ -s "$dir/run/slurmctld.pid" ]; then
    local jobs
    jobs="$(SLURM_CONF="$conf" squeue -h -o %i 2>/dev/null)"
    # shellcheck disable=SC2086  # one argument per job id
    [ -n "$jobs" ] && SLURM_CONF="$conf" scancel $jobs 2>/dev/null
  fi
  _slurm_kill_pidfile "$dir/run/slurmd.pid" slurmd
  _slurm_kill_pidfile "$dir/run/slurmctld.pid" slurmctld
  _slurm_kill_pidfile "$dir/run/munged.pid" munged
  if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then _slurm_log "kept $dir"; else rm -rf "$dir"; fi
  [ "${SLURM_TEST_DIR:-}" = "$dir" ] && unset SLURM_TEST_DIR SLURM_CONF
  return 0
}

# slurm_wait_state ID "STATE1|STATE2" [TIMEOUT_S=60]: waits until squeue -t all shows a listed
# state; prints the state seen. Returns 1 on timeout (printing the last state).
slurm_wait_state() {
  local id="$1" want="$2" timeout="${3:-60}" state=""
  local deadline=$(( $(date +%s) + timeout ))
  while :; do
    state="$(squeue -h -j "$id" -t all -o %T 2>/dev/null)"
    if [[ -n "$state" && "|$want|" == *"|$state|"* ]]; then echo "$state"; return 0; fi
    (( $(date +%s) >= deadline )) && { echo "$state"; return 1; }
    sleep 0.2
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    start) if slurm_start >&2; then echo "$SLURM_TEST_DIR"; else slurm_stop; exit 1; fi ;;
    stop) slurm_stop "${2:?usage: slurm_harness.sh stop DIR}" ;;
    *) echo "usage: slurm_harness.sh start | stop DIR" >&2; exit 2 ;;
  esac
fi

# job_field ID KEY: one field of `scontrol -o show job` (independent of mammosweep's query_job).
job_field() { scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
field_is() { [ "$(job_field "$1" "$2")" = "$3" ]; }  # field_is ID KEY VALUE

# For a test's EXIT trap: kills the pids in bg_pids, stops the Slurm, removes $tmp.
bg_pids=()
slurm_test_cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  slurm_stop
  rm -rf "$tmp"
}
