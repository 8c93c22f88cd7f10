#!/usr/bin/env bash
# `method: bayes` end to end under `mpirun -np 3` (rank 0 coordinates, ranks 1-2 train, so two
# trials run at once and the TPE sampler counts the other as running): a sweep killed with
# SIGKILL mid-way and resumed proposes the same trials, in the same order, with the same
# per-epoch metrics at full precision, as an uninterrupted one (orchestrator/proposer.h,
# "the order rule"). Then a bayes sweep with ASHA early stopping runs to its end and its
# stopped trials count in later proposals.
set -uo pipefail
source "$(dirname "$0")/sweep_fixture.sh"
make_data
common=(--cache-dir "$tmp/cache" --threads 1 --no-progress)
cat >"$tmp/spec.yaml" <<YAML
name: tiny-bayes
seed: 4
method: bayes
max_trials: 6
n_startup_trials: 2
resources: {lend_idle_threads: false}   # the resumed run is compared at full precision
data: {root: $tmp/data, image_size: 32}
training: {epochs: 2, batch_size: 8, dense_units: 16, unfrozen_fraction: 0.1}
parameters:
  lr: {distribution: log_uniform, min: 1.0e-4, max: 1.0e-2}
  dropout: {distribution: uniform, min: 0.0, max: 0.5}
  optimizer: {values: [adam, sgd]}
YAML

# trials_of DIR: "id name status" per trial, in proposal (store) order.
trials_of() { "$MAMMOSWEEP" status "$1" --format json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["trials"]:
    print(t["id"], t["status"], t["name"])
'; }
mpi=("$MPIEXEC" --oversubscribe -np 3 "$MAMMOSWEEP")

echo "== reference: mpirun -np 3, uninterrupted"
timeout 600 "${mpi[@]}" run "$tmp/spec.yaml" --out "$tmp/ref" "${common[@]}" >"$tmp/ref.log" 2>&1 \
  || { cat "$tmp/ref.log"; fail "reference run"; finish; }
trials_of "$tmp/ref" >"$tmp/ref.trials"
cat "$tmp/ref.trials"
[ "$(grep -c ' done ' "$tmp/ref.trials")" -eq 6 ] || fail "reference: expected 6 done trials"
grep -q "bayes: proposal 6/6 (TPE" "$tmp/ref.log" || fail "reference: proposal 6 did not come from TPE"
epochs_of "$tmp/ref/results.h5" >"$tmp/ref.epochs"

echo "== killed after proposal 4, then resumed"
out="$tmp/cut-sweep"
"${mpi[@]}" run "$tmp/spec.yaml" --out "$out" "${common[@]}" >"$tmp/cut.log" 2>&1 &
pid=$!
if wait_for 300 grep -q "bayes: proposal 4/6" "$tmp/cut.log" && kill -0 $pid 2>/dev/null; then
  sleep 0.5
  kill_run $pid "$out"
  echo "killed with $(grep -c 'bayes: proposal' "$tmp/cut.log") proposal(s) made"
else
  cat "$tmp/cut.log"; fail "the run to kill never reached proposal 4"
fi
before="$(trials_of "$out" | wc -l)"
[ "$before" -lt 6 ] || fail "the kill came too late: $before trials already proposed"
timeout 600 "${mpi[@]}" run "$tmp/spec.yaml" --out "$out" --resume "${common[@]}" >"$tmp/resume.log" 2>&1 \
  || { cat "$tmp/resume.log"; fail "resume"; }
trials_of "$out" >"$tmp/cut.trials"
diff "$tmp/ref.trials" "$tmp/cut.trials" >"$tmp/trials.diff" \
  || fail "resumed sweep proposed other trials: $(cat "$tmp/trials.diff")"
epochs_of "$out/results.h5" >"$tmp/cut.epochs"
diff "$tmp/ref.epochs" "$tmp/cut.epochs" >/dev/null || fail "resumed sweep's metrics differ"
grep -q "resuming after epoch\|bayes: proposal" "$tmp/resume.log" || fail "resume did nothing"

echo "== bayes with ASHA early stopping"
cat >"$tmp/asha.yaml" <<YAML
name: tiny-bayes-asha
seed: 5
method: bayes
max_trials: 7
n_startup_trials: 3
data: {root: $tmp/data, image_size: 32}
training: {epochs: 3, batch_size: 8, dense_units: 16, unfrozen_fraction: 0.1}
metric: {name: val_loss}
early_stopping: {policy: asha, grace_epochs: 1, reduction_factor: 3}
parameters:
  lr: {distribution: log_uniform, min: 1.0e-5, max: 1.0}
  optimizer: {values: [adam, sgd]}
YAML
timeout 600 "${mpi[@]}" run "$tmp/asha.yaml" --out "$tmp/asha" "${common[@]}" >"$tmp/asha.log" 2>&1 \
  || { cat "$tmp/asha.log"; fail "asha run"; }
trials_of "$tmp/asha" >"$tmp/asha.trials"
cat "$tmp/asha.trials"
[ "$(wc -l <"$tmp/asha.trials")" -eq 7 ] || fail "asha: expected 7 trials"
grep -q " stopped_early " "$tmp/asha.trials" || fail "asha: no trial was stopped early"
grep -q "(TPE" "$tmp/asha.log" || fail "asha: no TPE proposal"
finish
