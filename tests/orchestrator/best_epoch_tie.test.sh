#!/usr/bin/env bash
# The best-epoch tie, end to end through real training: with metric val_specificity on 8
# validation images, several epochs reach specificity 1.0 and differ only in val loss. The
# one rule (results/best_epoch.h: metric, then lower val loss, then earlier) must pick the
# same epoch in the trainer (whose checkpoint it keeps), the store (whose predictions it
# keeps, so the CI exists) and ranking; then `export` finds that epoch's checkpoint. Before
# the one rule, the trainer kept the EARLIER tied epoch and pruned the later one, so ranking
# chose an epoch without predictions (no CI) and export failed.
set -uo pipefail
bin="${MAMMOSWEEP:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"

"$bin" synth --out "$tmp/data" --count 40 --size 32 --seed 3 >/dev/null || exit 1
# The tie depends on the exact training trajectory, which moves with the CPU's kernels (and
# with any change to the arithmetic, such as the folded frozen BatchNorm): try seeds in turn
# and test with the first whose run has a loss tie-break that matters (a later tied epoch
# with a lower val loss, not among the last two, which are kept anyway).
tie_found() {
  python3 - "$1" <<'PY'
import re, sys
rows = [(int(e), float(l), float(s)) for e, l, s in re.findall(
    r"epoch (\d+)/6 .*?val loss ([0-9.]+) .*? spec ([0-9.]+)", open(sys.argv[1]).read())]
top = max((r[2] for r in rows), default=None)
tied = [r for r in rows if r[2] == top]
want = min(tied, key=lambda r: (r[1], r[0]))[0] if tied else 0
sys.exit(0 if len(tied) >= 2 and want != tied[0][0] and want <= 4 else 1)
PY
}
found=""
for seed in 1 55 48 53; do
  cat >"$tmp/spec.yaml" <<YAML
name: tie
seed: $seed
method: variants
metric: {name: val_specificity}
data: {root: $tmp/data, image_size: 32, leakage: warn}
training: {epochs: 6, batch_size: 8, dense_units: 16, dropout: 0.0, unfrozen_fraction: 0.3,
           weights: none, lr: 1.0e-3, optimizer: sgd}
variants:
  - {name: A}
YAML
  rm -rf "$tmp/sweep"
  check "run (seed $seed)" 0 "$bin" run "$tmp/spec.yaml" --out "$tmp/sweep" --cache-dir "$tmp/cache" --threads 1 --no-progress
  cp "$tmp/out" "$tmp/run.log"
  if tie_found "$tmp/run.log"; then found=$seed; break; fi
  echo "seed $seed: no tie whose break matters; next seed"
done
[ -n "$found" ] || { fail "no seed gave a loss tie-break to test; add seeds"; finish; }
check "leaderboard" 0 "$bin" leaderboard "$tmp/sweep" --format json
cp "$tmp/out" "$tmp/lb.json"
check "export" 0 "$bin" export "$tmp/sweep" --out "$tmp/model"
py "$tmp/run.log" "$tmp/lb.json" "$tmp/model/model.json" "$tmp/sweep" <<'PY'
import json, os, re, sys
# Per-epoch val loss and specificity as the run printed them (3 decimals).
rows = [(int(e), float(l), float(s)) for e, l, s in re.findall(
    r"epoch (\d+)/6 .*?val loss ([0-9.]+) .*? spec ([0-9.]+)", open(sys.argv[1]).read())]
assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6], rows
top = max(r[2] for r in rows)
tied = [r for r in rows if r[2] == top]
want = min(tied, key=lambda r: (r[1], r[0]))[0]   # the rule, written out here
# Preconditions of a meaningful test (fail loudly if training ever changes them):
assert len(tied) >= 2 and want != tied[0][0], f"no loss tie-break among {tied}; pick another seed"
assert want <= 4, f"epoch {want} is among the last two, kept anyway; pick another seed"
lb = json.load(open(sys.argv[2])); m = json.load(open(sys.argv[3]))
row = lb["rows"][0]
assert row["epoch"] == want, (row["epoch"], want, rows)
assert row["val_specificity_ci"] is not None, "no CI: the stored predictions are another epoch's"
assert m["selection"]["epoch"] == want, m["selection"]
ckpt = os.path.join(sys.argv[4], "trials", row["id"], "epoch-%04d.ckpt" % want)
assert os.path.exists(ckpt), ckpt
print(f"tied epochs {[r[0] for r in tied]} at specificity {top}: epoch {want} (lower val loss) "
      "ranked, with a CI, and exported")
PY
finish
