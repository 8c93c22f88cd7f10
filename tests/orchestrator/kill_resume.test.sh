#!/usr/bin/env bash
# kill -9 at random moments, then `run --resume`, until the sweep completes: the final results
# must equal an uninterrupted one-process run (every epoch row at full precision, each trial's
# best epoch), with every trial done and no epoch row lost or duplicated. With `retries: 0`,
# no kill may be charged to a trial as a process death (each kills every process at once).
#
# Each attempt runs the tiny sweep either under `mpirun -np 3` (rank 0 coordinates, ranks 1-2
# train) or in one process, alternately. The test kills the launcher AND every process under
# it with SIGKILL (no handler runs, nothing is flushed), at points drawn from $RANDOM:
#   - as soon as the store's lock file appears (inside SweepStore::create or just after);
#   - after a random sleep (MPI start-up, data preparation, weights, mid-epoch);
#   - right after an epoch line appears (between the store append and the checkpoint);
#   - a random time after an epoch line (mid-epoch of the next one).
# Between kills, `status` must read the crashed store. KILL_RESUME_SEED=N replays one draw.
set -uo pipefail
source "$(dirname "$0")/sweep_fixture.sh"
seed="${KILL_RESUME_SEED:-$RANDOM}"
RANDOM=$seed
echo "kill points drawn with KILL_RESUME_SEED=$seed"
make_data
write_spec "$tmp/spec.yaml"
common=(--cache-dir "$tmp/cache" --threads 1 --no-progress)
out="$tmp/killed-sweep"  # unique (mktemp): every process of an attempt has it on its command line

run_reference 6 "${common[@]}"

# best_epochs_of RESULTS_H5: "trial best_epoch" lines.
best_epochs_of() {
  local id
  for id in $(h5ls "$1/trials" | awk '{print $1}' | sort); do
    echo "$id $(h5dump -d "/trials/$id/best_epoch" "$1" | sed -n 's/^ *(0): *\([0-9]*\).*/\1/p')"
  done
}
best_epochs_of "$tmp/ref/results.h5" >"$tmp/ref.best"

kill_attempt() { kill_run "$1" "$out"; }

rand_sleep() { sleep "$(awk -v r="$RANDOM" -v lo="$1" -v hi="$2" 'BEGIN{printf "%.2f", lo + (hi - lo) * r / 32767}')"; }
# wait_for_line FILE PATTERN PID: until PATTERN is in FILE (0) or PID exits (1).
wait_for_line() {
  until grep -q -- "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.02
  done
}

# The plan: "launcher trigger" per attempt; launchers alternate.
plan=("one lock" "mpi sleep 0.3 2.5" "one dispatch" "mpi epoch 0" "one sleep 0.5 3"
      "mpi sleep 1 4" "one epoch 1.5" "mpi epoch 1.5")
kills=0
attempt=0
done_early=0
for step in "${plan[@]}"; do
  read -r launcher trigger a b <<<"$step"
  attempt=$((attempt + 1))
  log="$tmp/attempt$attempt.log"
  resume=(); [ -e "$out/results.h5" ] && resume=(--resume)
  if [ "$launcher" = mpi ]; then
    "$MPIEXEC" --oversubscribe -np 3 "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$out" \
      "${resume[@]}" "${common[@]}" >"$log" 2>&1 &
  else
    "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$out" "${resume[@]}" "${common[@]}" >"$log" 2>&1 &
  fi
  pid=$!
  ok=0
  case $trigger in
    lock) until [ -e "$out/results.h5.lock" ] || ! kill -0 $pid 2>/dev/null; do sleep 0.005; done
          kill -0 $pid 2>/dev/null && ok=1 ;;
    sleep) rand_sleep "$a" "$b"; ok=1 ;;
    dispatch) wait_for_line "$log" " attempt [0-9]* on rank" $pid && { rand_sleep 0 0.8; ok=1; } ;;
    epoch) wait_for_line "$log" " epoch [0-9]/2 " $pid && { rand_sleep 0 "$a"; ok=1; } ;;
  esac
  if [ $ok = 1 ] && kill -0 $pid 2>/dev/null; then
    kill_attempt $pid
    kills=$((kills + 1))
    echo "attempt $attempt ($launcher, $trigger${a:+ $a}${b:+ $b}): killed; $(grep -c ' epoch [0-9]/2 ' "$log") epoch line(s)"
  else
    wait $pid; rc=$?
    echo "attempt $attempt ($launcher, $trigger): ended by itself with exit $rc"
    [ $rc -eq 0 ] || { cat "$log"; fail "attempt $attempt exited $rc"; }
    done_early=1
    break
  fi
  # A crashed store stays readable (SWMR), and never holds more rows than planned.
  if [ -e "$out/results.h5" ]; then
    "$MAMMOSWEEP" status "$out" --format json >"$tmp/status.json" 2>"$tmp/status.err" \
      || { cat "$tmp/status.err"; fail "status after kill $kills"; }
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if all(0 <= t["epochs_done"] <= 2 for t in d["trials"]) else 1)' "$tmp/status.json" \
      || fail "status after kill $kills: epochs outside 0..2: $(cat "$tmp/status.json")"
  fi
done
[ "$kills" -ge 5 ] || fail "only $kills kill(s) landed; the test needs at least 5"

if [ $done_early = 0 ]; then
  echo "== final resume (mpirun -np 3) to completion"
  timeout 300 "$MPIEXEC" --oversubscribe -np 3 "$MAMMOSWEEP" run "$tmp/spec.yaml" --out "$out" \
    --resume "${common[@]}" >"$tmp/final.log" 2>&1 || { cat "$tmp/final.log"; fail "final resume"; }
fi

epochs_of "$out/results.h5" >"$tmp/final.epochs"
diff "$tmp/ref.epochs" "$tmp/final.epochs" >"$tmp/diff" \
  || fail "metrics after $kills kill(s) differ from the reference (seed $seed): $(head -6 "$tmp/diff")"
best_epochs_of "$out/results.h5" >"$tmp/final.best"
diff "$tmp/ref.best" "$tmp/final.best" >/dev/null \
  || fail "best epochs differ (seed $seed): $(paste "$tmp/ref.best" "$tmp/final.best")"
status_of "$out" >"$tmp/final.status"
[ "$(grep -c ' done$' "$tmp/final.status")" -eq 3 ] || fail "not all done: $(cat "$tmp/final.status")"
"$MAMMOSWEEP" status "$out" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = [t for t in d["trials"] if t["epochs_done"] != 2]
sys.exit(1 if bad else 0)' || fail "status: a trial without exactly 2 epochs"
# Every trial is done although retries is 0: a launch killed as a whole charges nobody
# (orchestrator/process_deaths.h); its attempts' notes were excused, none is left behind.
echo "$kills kill(s) (seed $seed); $(cat "$tmp"/attempt*.log | grep -c 'not charged as deaths') start(s) found the previous launch killed as a whole"
left="$(ls "$out/deaths" 2>/dev/null | grep -v '^launch.txt$')"
[ -z "$left" ] || fail "death notes left after a sweep that no death ended: $left"
echo "$fails failure(s)"
exit $((fails > 0))
