# Shared by the orchestrator's shell tests (sourced): a tiny synthetic dataset and spec, and
# helpers to compare the per-epoch metrics of two results files at full precision.
: "${MAMMOSWEEP:?set by ctest}"
MPIEXEC="${MPIEXEC:-mpiexec}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"   # fail, check, expect_in, wait_for

# make_data: 60 synthetic 32x32 mammograms in $tmp/data.
make_data() { "$MAMMOSWEEP" synth --out "$tmp/data" --count 60 --size 32 --seed 5 >/dev/null; }

# write_spec FILE [extra yaml lines...]: three quick variants on $tmp/data. Idle ranks do not
# lend their threads (resources.lend_idle_threads: false) unless a `resources:` line says so:
# the tests compare launches at full precision, and a trial's numerics depend on its thread
# count (docs/distributed.md, "Idle ranks lend their threads").
write_spec() {
  local file=$1; shift
  local lines=() line resources=0
  for line in "$@"; do
    if [[ $line == "resources: {"* ]]; then
      resources=1
      [[ $line == *lend_idle_threads* ]] || line="resources: {lend_idle_threads: false, ${line#resources: \{}"
    fi
    lines+=("$line")
  done
  ((resources)) || lines+=("resources: {lend_idle_threads: false}")
  {
    cat <<YAML
name: tiny
seed: 3
method: variants
data: {root: $tmp/data, image_size: 32}
training: {epochs: 2, batch_size: 8, dense_units: 16, dropout: 0.2, unfrozen_fraction: 0.1}
variants:
  - {name: A, optimizer: adam, lr: 1.0e-3}
  - {name: B, optimizer: sgd, lr: 1.0e-2}
  - {name: C, optimizer: rmsprop, lr: 1.0e-4, dropout: 0.4}
YAML
    for line in "${lines[@]}"; do echo "$line"; done
  } >"$file"
}

# epochs_of RESULTS_H5: every trial's epoch rows at full precision, without the timing
# columns (seconds, images_per_second), sorted by trial id.
epochs_of() {
  local h5=$1
  for id in $(h5ls "$h5/trials" | awk '{print $1}' | sort); do
    h5dump -m "%.17g" -d "/trials/$id/epochs" "$h5" | python3 -c '
import re, sys
text = sys.stdin.read()
data = text[text.index("DATA {"):]
for row in re.findall(r"\{([^{}]*)\}", data):
    vals = [v.strip() for v in row.replace("\n", " ").split(",")]
    print(sys.argv[1], " ".join(vals[:-2]))
' "$id"
  done
}

# status_of RESULTS_DIR: "name status" lines.
status_of() { "$MAMMOSWEEP" status "$1" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for t in d["trials"]:
    print(t["name"], t["status"])
'; }

# drop_checkpoints OUT...: a checked sweep's checkpoints (OUT/trials) removed; its results.h5
# and logs stay. A test that runs many sweeps then holds one sweep's checkpoints at a time
# (mpi_sweep held 5.9 GB at its peak without it).
drop_checkpoints() { local out; for out in "$@"; do rm -rf "$out/trials"; done; }

# run_reference ROWS [RUN ARGS...]: the uninterrupted one-process run of $tmp/spec.yaml into
# $tmp/ref that the other runs are compared with; its epoch rows go to $tmp/ref.epochs, which
# must hold ROWS rows (trials x epochs).
run_reference() {
  local rows=$1; shift
  echo "== reference: one process, uninterrupted"
  "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/ref" "$@" >"$tmp/ref.log" 2>&1 \
    || { cat "$tmp/ref.log"; fail "reference run"; }
  reference_epochs "$rows"
}

# reference_epochs ROWS: the epoch rows of the reference run in $tmp/ref go to $tmp/ref.epochs,
# which must hold ROWS rows (for a caller that ran the reference itself, e.g. in the background).
reference_epochs() {
  epochs_of "$tmp/ref/results.h5" >"$tmp/ref.epochs"
  [ "$(wc -l <"$tmp/ref.epochs")" -eq "$1" ] \
    || fail "reference: expected $1 epoch rows, got $(wc -l <"$tmp/ref.epochs")"
}

# same_as_reference NAME OUT: OUT's epoch rows equal $tmp/ref.epochs (an uninterrupted run's,
# written by the caller with epochs_of) at full precision, so no epoch is lost or duplicated,
# and all 3 trials are done.
same_as_reference() {
  epochs_of "$2/results.h5" >"$tmp/$1.epochs"
  diff "$tmp/ref.epochs" "$tmp/$1.epochs" >"$tmp/$1.diff" \
    || fail "$1: metrics differ from the one-process run: $(head -6 "$tmp/$1.diff")"
  [ "$(status_of "$2" | grep -c ' done$')" -eq 3 ] || fail "$1: not all done: $(status_of "$2")"
}

# same_except_failed NAME OUT TRIAL: TRIAL (a name) failed; every other trial is done with
# the epoch rows of $tmp/ref.epochs at full precision. Sets failed_reason.
same_except_failed() {
  local id
  id="$("$MAMMOSWEEP" status "$2" --format json | python3 -c '
import json, sys
print(*[t["id"] for t in json.load(sys.stdin)["trials"] if t["name"] == sys.argv[1]])' "$3")"
  [ -n "$id" ] || { fail "$1: no trial $3"; return; }
  epochs_of "$2/results.h5" | grep -v "^$id " >"$tmp/$1.epochs"
  grep -v "^$id " "$tmp/ref.epochs" >"$tmp/$1.ref.epochs"
  diff "$tmp/$1.ref.epochs" "$tmp/$1.epochs" >"$tmp/$1.diff" \
    || fail "$1: metrics differ from the reference run: $(head -6 "$tmp/$1.diff")"
  status_of "$2" >"$tmp/$1.status"
  [ "$(grep -c ' done$' "$tmp/$1.status")" -eq 2 ] && grep -qx "$3 failed" "$tmp/$1.status" \
    || fail "$1: expected $3 failed and the others done: $(cat "$tmp/$1.status")"
  failed_reason="$("$MAMMOSWEEP" status "$2" --format json | python3 -c '
import json, sys
print(*[t["reason"] for t in json.load(sys.stdin)["trials"] if t["name"] == sys.argv[1]])' "$3")"
}
descendants() {  # every process below PID, children first listed after their parent
  local c
  for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done
}
# kill_run PID OUT: SIGKILL to the launcher PID and all its descendants at once; then any
# process still carrying "--out OUT" on its command line (an orphaned rank) by pid, until
# none is left. OUT must be unique to the run (under the mktemp folder).
kill_run() {
  local pid=$1 out=$2 pids left
  pids="$pid $(descendants "$pid")"
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null
  wait "$pid" 2>/dev/null
  for _ in $(seq 100); do
    left="$(pgrep -f -- "--out $out( |$)")"
    [ -z "$left" ] && return 0
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null
    sleep 0.1
  done
  fail "processes of $out survived kill -9: $left"
}
