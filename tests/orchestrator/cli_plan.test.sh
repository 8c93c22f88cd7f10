#!/usr/bin/env bash
# The CLI's `plan` subcommand and its documented exit codes.
set -uo pipefail
bin="${MAMMOSWEEP:?}"; src="${MAMMOSWEEP_SOURCE_DIR:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"

check "plan week7" 0 "$bin" plan "$src/sweeps/week7.yaml"
for row in "Model 1 | adam      | 0.0001 | 0.5" "Model 2 | adam      | 5e-05  | 0.6" \
           "Model 3 | rmsprop   | 0.0001 | 0.7" "| epochs  " "3 trials"; do
  expect_in "$tmp/out" "$row"
done
check "plan json" 0 "$bin" plan "$src/sweeps/week7.yaml" --format json
python3 - "$tmp/out" <<'PY' || fails=$((fails+1))
import json, sys
d = json.load(open(sys.argv[1]))
rows = [(t["name"], t["params"]["unfrozen_fraction"], t["params"]["dense_units"],
         t["params"]["dropout"], t["params"]["optimizer"], t["params"]["lr"], t["params"]["epochs"])
        for t in d["trials"]]
want = [("Model 1", .5, 1024, .5, "adam", 1e-4, 7), ("Model 2", .6, 512, .3, "adam", 5e-5, 7),
        ("Model 3", .7, 1024, .4, "rmsprop", 1e-4, 7)]
assert rows == want, rows
PY
# A W&B sweep file, as written for `wandb sweep`, plans unchanged; its notes go to stderr.
check "plan wandb" 0 "$bin" plan "$src/sweeps/wandb-example.yaml" --format json
expect_in "$tmp/err" "wandb-example.yaml:7:10: note: 'program' tells W&B's agent"
expect_in "$tmp/err" "wandb-example.yaml:33:19: note: parameters.weight_decay: log_uniform takes exponents"
python3 - "$tmp/out" <<'PY' || fails=$((fails+1))
import json, math, sys
d = json.load(open(sys.argv[1]))
t = d["trials"]
assert d["name"] == "week7-wandb" and d["method"] == "random", d
assert len(t) == 12, len(t)                      # run_cap: 12
assert d["metric"] == {"name": "val_auc", "goal": "maximize", "target": 0.99}, d["metric"]
assert d["early_stopping"]["policy"] == "asha" and d["early_stopping"]["rungs"][:3] == [2, 6, 18]
for x in t:
    p = x["params"]
    assert 1e-5 <= p["lr"] <= 1e-3
    assert math.exp(-11.5) <= p["weight_decay"] <= math.exp(-6.9)   # exponents
    assert p["dense_units"] % 64 == 0 and 128 <= p["dense_units"] <= 1024
    assert abs(p["dropout"] / 0.05 - round(p["dropout"] / 0.05)) < 1e-9
    assert 0 <= p["augmentation.brightness"] <= 1 and p["epochs"] == 6
PY
check "plan bayes" 0 "$bin" plan "$src/sweeps/bayes-example.yaml"
for row in "method bayes, up to 40 trials proposed while the sweep runs (10 at random, then TPE)" \
           "| lr  " "number in [1e-05, 0.001], log scale" "| optimizer  " "one of 4 choices"; do
  expect_in "$tmp/out" "$row"
done
check "plan bayes json" 0 "$bin" plan "$src/sweeps/bayes-example.yaml" --format json
python3 - "$tmp/out" <<'PY' || fails=$((fails+1))
import json, sys
d = json.load(open(sys.argv[1]))
assert d["method"] == "bayes" and d["trials"] == [] and d["max_trials"] == 40, d
lr = d["search_space"][0]
assert (lr["name"], lr["low"], lr["high"], lr["log"]) == ("lr", 1e-5, 1e-3, True), lr
PY
check "help" 0 "$bin" --help
check "plan help" 0 "$bin" plan --help
check "version" 0 "$bin" --version
check "no subcommand" 2 "$bin"
check "unknown subcommand" 2 "$bin" frobnicate
check "plan without spec" 2 "$bin" plan
check "bad format" 2 "$bin" plan "$src/sweeps/week7.yaml" --format xml
check "missing spec file" 2 "$bin" plan "$tmp/nope.yaml"
expect_in "$tmp/err" "$tmp/nope.yaml: error: cannot read the spec"
printf 'name: bad\ntraining:\n  dropout: 1.5\n  lr: -1\nvariants: [{name: a}]\n' >"$tmp/bad.yaml"
check "invalid spec" 2 "$bin" plan "$tmp/bad.yaml"
expect_in "$tmp/err" "$tmp/bad.yaml:3:12: error: 'dropout' expects a number in [0, 1)"
expect_in "$tmp/err" "$tmp/bad.yaml:4:7: error: 'lr' expects a number > 0"
[ -s "$tmp/out" ] && { echo "FAIL: an invalid spec printed a plan"; fails=$((fails+1)); }
finish
