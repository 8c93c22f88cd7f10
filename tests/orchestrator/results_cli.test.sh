#!/usr/bin/env bash
# The result commands `status`, `leaderboard` and `plot` on a fixture sweep whose numbers are
# chosen by hand (tests/orchestrator/results_fixture_test.cpp writes it and explains them):
#   Model 1 done, best val acc 0.90 (epoch 2), best val AUC 0.80, final val acc 0.70
#   Model 2 done, best val acc 0.80 (epoch 2), best val AUC 0.92, lowest val loss 0.35
#   Model 3 failed (CUDA out of memory, 2 attempts), Model 4 running (1 of 3 epochs)
#   spec metric val_accuracy; mean epoch 9.5 s, 2 epochs left, 1 running -> ETA 19 s.
set -uo pipefail
src="${MAMMOSWEEP_SOURCE_DIR:?}"
# shellcheck source=results_fixture.sh
source "$(dirname "${BASH_SOURCE[0]}")/results_fixture.sh"

# --- status ------------------------------------------------------------------------------
check "status" 0 "$bin" status "$sweep"
for text in "sweep fixture" "4 trials: 1 running, 0 pending, 2 done, 0 stopped_early, 1 failed" \
            "| Model 1 | done    | 3/3" "| Model 4 | running | 1/3" "| 0.750 " \
            "CUDA out of memory" "running: Model 4 (" "epoch 2 of 3" "mean epoch time: 9.5s" \
            "remaining epochs: 2" "ETA: 19s" "slurm job 1234" "slurm job 1240"; do
  expect_in "$tmp/out" "$text"
done
check "status json" 0 "$bin" status "$sweep" --format json
py "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "fixture", d["name"]
assert d["counts"] == {"pending": 0, "running": 1, "done": 2, "failed": 1, "stopped_early": 0}, d["counts"]
t = {x["name"]: x for x in d["trials"]}
assert [x["name"] for x in d["trials"]] == ["Model 1", "Model 2", "Model 3", "Model 4"]
assert (t["Model 1"]["epochs_done"], t["Model 1"]["epochs_planned"]) == (3, 3)
assert (t["Model 4"]["status"], t["Model 4"]["epochs_done"]) == ("running", 1)
assert abs(t["Model 2"]["last_val_auc"] - 0.88) < 1e-12
assert (t["Model 3"]["attempts"], t["Model 3"]["reason"]) == (2, "CUDA out of memory")
assert abs(d["seconds_per_epoch"] - 9.5) < 1e-12 and d["remaining_epochs"] == 2
assert abs(d["eta_seconds"] - 19.0) < 1e-9, d["eta_seconds"]
assert d["slurm_job_ids"] == ["1234", "1240"]
PY

# --- leaderboard --------------------------------------------------------------------------
check "leaderboard md (spec metric val_accuracy)" 0 "$bin" leaderboard "$sweep"
expect_in "$tmp/out" "## Model of the week"
expect_in "$tmp/out" "Model 1 is the model of the week"
expect_in "$tmp/out" "- Model 3 ("
expect_in "$tmp/out" "CUDA out of memory"
[ "$(grep -c 'CUDA out of memory' "$tmp/out")" -eq 1 ] || { echo "FAIL: failed trial listed twice"; fails=$((fails+1)); }
py "$tmp/out" <<'PY'
import sys
rows = [l for l in open(sys.argv[1]) if l.startswith("| ") and "---" not in l][1:]
names = [r.split("|")[2].strip() for r in rows]
assert names == ["Model 1", "Model 2"], names  # ranked rows only, by val acc 0.90 > 0.80
PY
check "leaderboard val_auc" 0 "$bin" leaderboard "$sweep" --metric val_auc
expect_in "$tmp/out" "Model 2 is the model of the week"
check "leaderboard val_loss (minimized)" 0 "$bin" leaderboard "$sweep" --metric val_loss --ci-resamples 0
expect_in "$tmp/out" "Model 2 is the model of the week"
check "leaderboard --by final" 0 "$bin" leaderboard "$sweep" --by final
expect_in "$tmp/out" "Model 2 is the model of the week"
check "leaderboard --top 1" 0 "$bin" leaderboard "$sweep" --top 1
py "$tmp/out" <<'PY'
import sys
rows = [l for l in open(sys.argv[1]) if l.startswith("| ") and "---" not in l][1:]
assert [r.split("|")[2].strip() for r in rows] == ["Model 1"], rows
PY
check "leaderboard csv" 0 "$bin" leaderboard "$sweep" --format csv
py "$tmp/out" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert [(r["rank"], r["name"]) for r in rows] == [("1", "Model 1"), ("2", "Model 2"), ("", "Model 3"), ("", "Model 4")], rows
assert float(rows[0]["val_accuracy"]) == 0.9 and float(rows[1]["val_accuracy"]) == 0.8
assert float(rows[0]["val_auc"]) == 0.8 and float(rows[1]["val_auc"]) == 0.92
assert rows[2]["status"] == "failed" and "CUDA out of memory" in rows[2]["reason"]
assert rows[3]["status"] == "running"
assert "lr" in rows[0] and float(rows[0]["lr"]) == 1e-4 and float(rows[1]["lr"]) == 5e-5
PY
check "leaderboard json --out" 0 "$bin" leaderboard "$sweep" --format json --metric val_auc --out "$tmp/lb.json"
expect_in "$tmp/out" "$tmp/lb.json"
py "$tmp/lb.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["metric"] == "val_auc" and d["winner"]["name"] == "Model 2", d.get("winner")
assert [(r["rank"], r["name"]) for r in d["rows"]] == [(1, "Model 2"), (2, "Model 1"), (None, "Model 3"), (None, "Model 4")]
lo, hi = d["rows"][0]["val_auc_ci"]
assert 0 <= lo <= 0.92 <= hi <= 1, (lo, hi)
assert d["justification"].startswith("Model 2 is the model of the week")
# DeLong's paired test of Model 1 against the reference Model 2 (same 10 images), by hand:
#   V10 M1 (1,1,1,1,0), M2 (1,1,1,1,0.6); V01 M1 (.8,.8,.8,.8,.8), M2 (.8,.8,1,1,1)
#   S10: .2, .032, cov .08; S01: 0, .012, cov 0 -> Var = (.2+.032-.16)/5 + .012/5 = .0168
#   difference 0.80 - 0.92 = -0.12, se = sqrt(.0168), p = erfc(0.12/se/sqrt 2) = 0.3545
import math
se = math.sqrt(0.0168)
assert d["rows"][0]["paired_note"] == "reference" and d["rows"][0]["auc_diff"] is None
r = d["rows"][1]
assert r["paired_note"] == "" and abs(r["auc_diff"] + 0.12) < 1e-6, r
assert abs(r["auc_diff_ci"][0] - (-0.12 - 1.959964 * se)) < 1e-5, r
assert abs(r["auc_diff_ci"][1] - (-0.12 + 1.959964 * se)) < 1e-5, r
assert abs(r["delong_p"] - math.erfc(0.12 / se / math.sqrt(2))) < 1e-5, r
assert "Model 2 is not significantly better than Model 1 in val AUC" in d["justification"], d["justification"]
PY
check "leaderboard --epochs csv" 0 "$bin" leaderboard "$sweep" --epochs --format csv
py "$tmp/out" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
got = sorted((r["trial"], int(r["epoch"])) for r in rows)
want = sorted([("Model 1", e) for e in (1, 2, 3)] + [("Model 2", e) for e in (1, 2, 3)] + [("Model 3", 1), ("Model 4", 1)])
assert got == want, got
sel = [(r["trial"], r["epoch"]) for r in rows if r["selected"] == "yes"]
assert sorted(sel) == [("Model 1", "2"), ("Model 2", "2")], sel
PY
check "leaderboard html" 0 "$bin" leaderboard "$sweep" --format html
py "$tmp/out" <<'PY'
import sys, xml.dom.minidom
xml.dom.minidom.parseString("<div>" + open(sys.argv[1]).read() + "</div>")
PY
expect_in "$tmp/out" "Model 1 is the model of the week"

# --- plot ----------------------------------------------------------------------------------
check "plot" 0 "$bin" plot "$sweep" --out "$tmp/plots"
for f in accuracy.svg precision_recall.svg loss.svg roc.svg parallel_coordinates.svg history.svg \
         report.html; do
  expect_in "$tmp/out" "$tmp/plots/$f"
done
py "$tmp/plots" <<'PY'
import os, sys, xml.dom.minidom
d = sys.argv[1]
for f in ("accuracy.svg", "precision_recall.svg", "loss.svg", "roc.svg",
          "parallel_coordinates.svg", "history.svg"):
    doc = xml.dom.minidom.parse(os.path.join(d, f))
    assert doc.documentElement.tagName == "svg", f
    text = open(os.path.join(d, f)).read()
    if f not in ("roc.svg", "history.svg"):
        assert "Model 1" in text and "Model 2" in text, f
html = open(os.path.join(d, "report.html")).read()
xml.dom.minidom.parseString(html.replace("<!DOCTYPE html>", ""))
assert "Model 1 is the model of the week" in html
for banned in ("<script", "http://", "https://", "<img", "<link"):
    assert banned not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), banned
PY

# --- errors --------------------------------------------------------------------------------
mkdir -p "$tmp/empty"
for cmd in status leaderboard; do
  check "$cmd without results.h5" 2 "$bin" $cmd "$tmp/empty"
  expect_in "$tmp/err" "$tmp/empty: no results.h5 (is this a sweep output folder? run \`mammosweep run SPEC --out $tmp/empty\` first)"
done
check "plot without results.h5" 2 "$bin" plot "$tmp/empty" --out "$tmp/p2"
check "unknown metric" 2 "$bin" leaderboard "$sweep" --metric val_bogus
expect_in "$tmp/err" "val_bogus"
check "bad format" 2 "$bin" leaderboard "$sweep" --format xml
check "bad --by" 2 "$bin" leaderboard "$sweep" --by middle
check "plot without --out" 2 "$bin" plot "$sweep"
check "status help" 0 "$bin" status --help
finish
