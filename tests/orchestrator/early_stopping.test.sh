#!/usr/bin/env bash
# Early stopping wired into the coordinator, under real mpirun: a trial the median rule
# stops is recorded as stopped_early with the epochs it ran kept, and the decisions are the
# same in one process and under mpirun -np 2 (one worker: the same trial order).
set -uo pipefail
source "$(dirname "$0")/sweep_fixture.sh"
make_data
write_spec "$tmp/spec.yaml" \
  "  - {name: D, optimizer: adam, lr: 1.0e-9, dropout: 0.1}" \
  "early_stopping: {policy: median, grace_epochs: 1, min_trials: 1}"
sed -i 's/epochs: 2,/epochs: 3,/' "$tmp/spec.yaml"
common=(--cache-dir "$tmp/cache" --threads 1 --no-progress)

"$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/one" "${common[@]}" >"$tmp/one.log" 2>&1 \
  || { cat "$tmp/one.log"; fail "one-process run"; }
timeout 600 "$MPIEXEC" --oversubscribe -np 2 "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$tmp/mpi" \
  "${common[@]}" >"$tmp/mpi.log" 2>&1 || { cat "$tmp/mpi.log"; fail "mpirun -np 2 run"; }

status_of "$tmp/one" >"$tmp/one.status"
status_of "$tmp/mpi" >"$tmp/mpi.status"
cat "$tmp/mpi.status"
diff "$tmp/one.status" "$tmp/mpi.status" || fail "statuses differ between one process and mpirun"
diff <(epochs_of "$tmp/one/results.h5") <(epochs_of "$tmp/mpi/results.h5") >/dev/null \
  || fail "epochs differ between one process and mpirun"
stopped=$(grep -c ' stopped_early$' "$tmp/mpi.status")
[ "$stopped" -ge 1 ] || fail "the median rule stopped no trial: $(cat "$tmp/mpi.status")"
# Each stopped trial kept the epochs it ran (fewer than 3), and says why.
"$MAMMOSWEEP" status "$tmp/mpi" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for t in d["trials"]:
    if t["status"] == "stopped_early":
        assert 1 <= t["epochs_done"] < 3, t
        assert "median" in t["reason"], t
    else:
        assert t["epochs_done"] == 3, t
' || fail "stopped trials must keep 1..2 epochs and a reason"
grep -q "stopped early by the median rule" "$tmp/mpi.log" || fail "no stop line in the progress"
"$MAMMOSWEEP" leaderboard "$tmp/mpi" >"$tmp/lb.md" || fail "leaderboard"
grep -q "stopped_early" "$tmp/lb.md" || fail "leaderboard does not show the stopped trial"
echo "$fails failure(s)"
exit $((fails > 0))
