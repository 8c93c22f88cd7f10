#!/usr/bin/env bash
# Time to the model of the week with early stopping (issue 13; docs/performance.md section 7).
# One random sweep of TRIALS trials x EPOCHS epochs at a small image size, with fixed seeds,
# run three times in one process: no early stopping (fifo), ASHA, the median rule. For each policy:
#   - epochs trained, against the budget TRIALS x EPOCHS;
#   - epochs trained until the final winner was known: one process runs the trials in store
#     order, so that is every epoch of the trials before the winner plus the winner's epochs
#     up to the one that makes it the winner (its selected epoch);
#   - the winner (the leaderboard's model of the week) and its val AUC, and the wall time.
#   bench/time_to_winner.sh [TRIALS=20] [EPOCHS=6] [SIZE=32] [IMAGES=120] [THREADS=2]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MAMMOSWEEP_BUILD_DIR:-$root/build}"
trials="${1:-20}"; epochs="${2:-6}"; size="${3:-32}"; images="${4:-120}"; threads="${5:-2}"
bin="$build/orchestrator/mammosweep"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

"$bin" synth --out "$work/data" --count "$images" --size "$size" --seed 11 >/dev/null
cat >"$work/spec.yaml" <<YAML
name: time-to-winner
seed: 2026
method: random
max_trials: $trials
metric: {name: val_auc, goal: maximize}
data: {root: $work/data, image_size: $size}
training: {epochs: $epochs, batch_size: 16}
parameters:
  lr: {distribution: log_uniform, min: 1.0e-5, max: 1.0e-2}
  dropout: {distribution: uniform, min: 0.1, max: 0.6}
  unfrozen_fraction: {values: [0.1, 0.3, 0.5]}
  dense_units: {values: [32, 64, 128]}
  optimizer: {values: [adam, sgd, rmsprop]}
YAML

echo "$(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $trials trials x $epochs epochs, $images images of ${size}px, $threads threads"
printf '| policy | epochs trained (of %d) | epochs until the winner was known | winner | its val AUC | wall s |\n|---|---:|---:|---|---:|---:|\n' \
  "$((trials * epochs))"
for policy in fifo asha median; do
  out="$work/$policy"
  t0=$(date +%s.%N)
  "$bin" run "$work/spec.yaml" --out "$out" --cache-dir "$work/cache" --threads "$threads" \
    --no-progress --set early_stopping.policy="$policy" >"$work/$policy.log" 2>&1 \
    || { tail -20 "$work/$policy.log"; exit 1; }
  t1=$(date +%s.%N)
  "$bin" status "$out" --format json >"$work/status.json"
  "$bin" leaderboard "$out" --format json >"$work/lb.json" 2>/dev/null
  python3 - "$work" "$policy" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, sys
work, policy, wall = sys.argv[1], sys.argv[2], float(sys.argv[3])
trials = json.load(open(f"{work}/status.json"))["trials"]  # store order = run order here
lb = json.load(open(f"{work}/lb.json"))
winner = next(r for r in lb["rows"] if r["id"] == lb["winner"]["id"])  # the model of the week
known = 0
for k, t in enumerate(trials, 1):
    if t["id"] == winner["id"]:
        known += int(winner["epoch"])
        where = f"{t['id']}, trial {k} of {len(trials)}"
        break
    known += t["epochs_done"]
ran = sum(t["epochs_done"] for t in trials)
print(f"| {policy} | {ran} | {known} | {where}, epoch {winner['epoch']} | "
      f"{winner['val_auc']:.3f} | {wall:.0f} |")
PY
done
