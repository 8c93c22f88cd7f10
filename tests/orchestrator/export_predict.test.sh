#!/usr/bin/env bash
# `export` + `predict` round trip: a tiny real sweep on synthetic data, run with overrides
# (--set data.image_size, --set training.epochs, --data-root) that the spec file contradicts,
# the winner exported, every val image scored by `predict --csv`, and each probability
# compared with the val score the store holds for the winner's best epoch (read
# independently with h5dump): the exported model is the model that trained.
# Then `evaluate`: the test split scored once, checked against metrics computed here from
# `predict` on the test images, recorded in results.h5, and carried into the model card.
# Also: the exported folder's files and fields, --by final, and the documented errors
# (unknown trial, pruned checkpoint, corrupt image, missing model folder).
set -uo pipefail
bin="${MAMMOSWEEP:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
T="$tmp"
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"
for tool in h5dump h5clear python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (apt: hdf5-tools)"; exit 1; }
done

check "synth" 0 "$bin" synth --out "$T/data" --count 60 --size 48 --seed 5
cat >"$T/spec.yaml" <<EOF
name: export-test
seed: 3
method: variants
metric: {name: val_auc, goal: maximize}
selection: {rule: one_se, alpha: 0.05, threshold: youden}
data:
  root: $T/nowhere     # replaced by --data-root
  layout: folders
  image_size: 224      # replaced by --set data.image_size=48
  class_map: {"0": 0, "1": 1}
  splits: {train: train, val: valid, test: test}
  leakage: warn
training:
  epochs: 5            # replaced by --set training.epochs=2
  batch_size: 8
  dense_units: 16
  dropout: 0.2
  unfrozen_fraction: 0.2
  weights: none
  optimizer: adam
  augmentation: {hflip: true}
variants:
  - name: fast
    lr: 1.0e-3
  - name: slow
    lr: 1.0e-4
EOF
check "run" 0 "$bin" run "$T/spec.yaml" --out "$T/sweep" --cache-dir "$T/cache" --threads 2 --no-progress \
  --set data.image_size=48 --set training.epochs=2 --data-root "$T/data"
[ -f "$T/sweep/results.h5" ] || { echo "FAIL: the sweep wrote no results.h5"; exit 1; }

# --- export the model of the week ---------------------------------------------------------
check "export" 0 "$bin" export "$T/sweep" --out "$T/model"
expect_in "$tmp/out" "exported trial"
for f in model.safetensors model.json MODEL_CARD.md; do
  [ -s "$T/model/$f" ] || { echo "FAIL: $T/model/$f missing or empty"; fails=$((fails+1)); }
done
check "leaderboard json" 0 "$bin" leaderboard "$T/sweep" --format json
cp "$tmp/out" "$T/leaderboard.json"
py "$T/model/model.json" "$T/leaderboard.json" "$T" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); lb = json.load(open(sys.argv[2]))
assert m["format"] == "mammosweep-model" and m["format_version"] == 1
assert m["trial"]["id"] == lb["winner"]["id"], (m["trial"]["id"], lb["winner"])
assert m["selection"]["rank"] == 1 and m["selection"]["by"] == "best", m["selection"]
# one_se, checked from the leaderboard's own columns: the candidates are the reference (best
# val AUC) and every trial whose paired DeLong test does not say "significantly lower AUC";
# among them the lowest val loss wins (the fixture's two trials never tie on it).
rows = [r for r in lb["rows"] if r["rank"] is not None]
cands = [r for r in rows if r["paired_note"] == "reference" or
         (r["delong_p"] is not None and not (r["delong_p"] < 0.05 and r["auc_diff"] < 0))]
want = min(cands, key=lambda r: r["val_loss"])
assert lb["winner"]["id"] == want["id"] == rows[0]["id"], (lb["winner"], want["id"], rows)
assert "one_se" in lb["justification"], lb["justification"]
assert m["selection"]["metric"] == "val_auc"
a = m["architecture"]
assert (a["dense_units"], a["dropout"], a["unfrozen_fraction"], a["num_classes"]) == (16, 0.2, 0.2, 2), a
p = m["preprocessing"]
assert (p["image_size"], p["keep_aspect"], p["clahe"], p["window"]) == (48, False, False, "minmax"), p
assert p["mean"] == [0.485, 0.456, 0.406] and p["std"] == [0.229, 0.224, 0.225], p
assert m["class_map"] == {"0": 0, "1": 1} and 0.0 <= m["threshold"] <= 1.0
assert m["trial"]["params"]["lr"] in (1e-3, 1e-4) and m["trial"]["params"]["epochs"] == 2
assert m["data"]["manifest_hash"] and m["data"]["leakage"]["ran"] is True
assert m["data"]["root"] == sys.argv[3] + "/data", m["data"]["root"]   # --data-root
assert m["test"] is None, m["test"]                                    # not evaluated yet
v = m["metrics"]["val"]; cm = v["confusion_matrix"]
assert cm["tp"] + cm["fp"] + cm["tn"] + cm["fn"] == 12, cm   # 60 images, 20% per class in valid
ci = m["metrics"]["val_ci"]
for k in ("auc", "accuracy", "sensitivity", "specificity"):
    assert ci[k]["lo"] <= ci[k]["point"] <= ci[k]["hi"], (k, ci[k])
assert abs(ci["accuracy"]["point"] - v["accuracy"]) < 1e-9, (ci["accuracy"], v["accuracy"])
PY
expect_in "$T/model/MODEL_CARD.md" "Caution"
expect_in "$T/model/MODEL_CARD.md" "validation"
expect_in "$T/model/MODEL_CARD.md" "leakage guard: 60 images checked"
expect_in "$T/model/MODEL_CARD.md" "95% CI"

# The store keeps the file's text with the overrides, and the effective spec they made.
cp "$T/sweep/results.h5" "$T/spec-copy.h5" && h5clear -s "$T/spec-copy.h5" >/dev/null 2>&1
h5dump -A -a /spec_effective_yaml "$T/spec-copy.h5" >"$T/effective.txt"
expect_in "$T/effective.txt" "image_size: 48"
expect_in "$T/effective.txt" "epochs: 2"
expect_in "$T/effective.txt" "$T/data"
h5dump -A -a /spec_overrides "$T/spec-copy.h5" >"$T/overrides.txt"
expect_in "$T/overrides.txt" "data.image_size=48"
check "status" 0 "$bin" status "$T/sweep"
expect_in "$tmp/out" "2/2"

# --- predict every val image and compare with the stored best-epoch val scores ----------------
find "$T/data/valid" -type f | LC_ALL=C sort >"$T/val.txt"   # the loader's order: sorted paths
mapfile -t val <"$T/val.txt"
check "predict csv" 0 "$bin" predict --model "$T/model" --csv --threads 2 "${val[@]}"
cp "$tmp/out" "$T/pred.csv"
id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trial"]["id"])' "$T/model/model.json")"
cp "$T/sweep/results.h5" "$T/copy.h5" && h5clear -s "$T/copy.h5" >/dev/null 2>&1
h5dump -y -w 0 -m '%.9g' -d "/trials/$id/best_val_scores" "$T/copy.h5" >"$T/scores.txt" \
  || { echo "FAIL: h5dump best_val_scores"; cat "$T/scores.txt"; fails=$((fails+1)); }
h5dump -y -w 0 -d "/trials/$id/best_val_labels" "$T/copy.h5" >"$T/labels.txt"
h5dump -y -w 0 -d "/trials/$id/best_epoch" "$T/copy.h5" >"$T/best_epoch.txt"
py "$T/pred.csv" "$T/scores.txt" "$T/labels.txt" "$T/best_epoch.txt" "$T/model/model.json" "$T/val.txt" <<'PY'
import csv, json, re, sys
def data(path):
    text = open(path).read()
    body = text[text.index("DATA {") + 6:]
    body = body[:body.index("}")]
    return [float(x) for x in re.findall(r"[-+0-9.eE]+", body.replace("(0)", ""))]
rows = list(csv.DictReader(open(sys.argv[1])))
scores, labels = data(sys.argv[2]), data(sys.argv[3])
best_epoch = int(data(sys.argv[4])[0])
m = json.load(open(sys.argv[5]))
paths = open(sys.argv[6]).read().split("\n")[:-1]
assert m["selection"]["epoch"] == best_epoch, (m["selection"]["epoch"], best_epoch)
assert [r["path"] for r in rows] == paths, "predict changed the order of the images"
assert len(rows) == len(scores) == len(labels) == 12, (len(rows), len(scores), len(labels))
# Independent check of the order: each stored label is the class folder of the image.
assert [int(l) for l in labels] == [int(p.split("/")[-2]) for p in paths], labels
worst = max(abs(float(r["probability"]) - s) for r, s in zip(rows, scores))
assert worst <= 1e-4, f"predict differs from the stored val scores by {worst}"
# Youden's J on the stored val predictions, written out here: candidates are the distinct
# scores, J = sensitivity + specificity - 1 with score >= t predicting malignant, ties -> lowest t.
pos = sum(1 for l in labels if l == 1); neg = len(labels) - pos
def J(t):
    tp = sum(1 for l, s in zip(labels, scores) if l == 1 and s >= t)
    tn = sum(1 for l, s in zip(labels, scores) if l == 0 and s < t)
    return tp / pos + tn / neg - 1
cands = sorted(set(scores))
best = max(J(t) for t in cands)
youden = min(t for t in cands if J(t) == best)
assert abs(m["threshold"] - youden) < 1e-6, (m["threshold"], youden)
for r in rows:  # (a score printed to 6 decimals cannot be compared at the threshold itself)
    if abs(float(r["probability"]) - m["threshold"]) > 1e-5:
        assert r["prediction"] == ("1" if float(r["probability"]) >= m["threshold"] else "0"), r
print(f"round trip: {len(rows)} images, max |predict - stored| = {worst:.2e}")
PY

check "predict text" 0 "$bin" predict --model "$T/model" "${val[0]}" "${val[-1]}"
[ "$(wc -l <"$tmp/out")" -eq 2 ] || { echo "FAIL: expected 2 lines"; cat "$tmp/out"; fails=$((fails+1)); }
expect_in "$tmp/out" "${val[0]}  "

# --- --by final: the last epoch, whose checkpoint the trainer always keeps ------------------
check "export --by final --trial slow" 0 "$bin" export "$T/sweep" --out "$T/final" --by final --trial slow
py "$T/final/model.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["trial"]["name"] == "slow" and m["selection"]["epoch"] == 2, m["selection"]
assert m["selection"]["by"] == "final"
PY

# --- evaluate: the test split once, with the threshold chosen on validation ---------------
find "$T/data/test" -type f | LC_ALL=C sort >"$T/test.txt"
mapfile -t test_images <"$T/test.txt"
check "predict test csv" 0 "$bin" predict --model "$T/model" --csv --threads 2 "${test_images[@]}"
cp "$tmp/out" "$T/test_pred.csv"
check "evaluate" 0 "$bin" evaluate "$T/sweep" --format json --threads 2
cp "$tmp/out" "$T/eval1.json"
py "$T/eval1.json" "$T/test_pred.csv" "$T/model/model.json" <<'PY'
import csv, json, sys
r = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[3]))
rows = list(csv.DictReader(open(sys.argv[2])))
y = [int(row["path"].split("/")[-2]) for row in rows]
p = [float(row["probability"]) for row in rows]
assert r["split"] == "test" and r["trial"]["id"] == m["trial"]["id"], r["trial"]
assert r["trial"]["epoch"] == m["selection"]["epoch"] and r["trial"]["model_of_the_week"]
assert r["threshold"] == {"rule": "youden", "value": m["threshold"], "chosen_on": "val"}, r["threshold"]
assert r["images"]["total"] == len(rows) > 0 and r["images"]["malignant"] == sum(y), r["images"]
assert r["earlier_test_evaluations"] == 0
t = r["threshold"]["value"]
tp = sum(1 for a, b in zip(y, p) if a == 1 and b >= t); fn = sum(y) - tp
tn = sum(1 for a, b in zip(y, p) if a == 0 and b < t); fp = len(y) - sum(y) - tn
assert r["confusion_matrix"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}, r["confusion_matrix"]
pos = [b for a, b in zip(y, p) if a == 1]; neg = [b for a, b in zip(y, p) if a == 0]
auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
want = {"auc": auc, "sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
        "accuracy": (tp + tn) / len(y), "f1": 2 * tp / (2 * tp + fp + fn) if tp > 0 else None}
for k, v in want.items():
    got = r["metrics"][k]
    if v is None: assert got["point"] is None, (k, got); continue
    # predict prints 6 decimals: AUC from rounded scores can differ only on near-ties
    assert abs(got["point"] - v) < 1e-9 or (k == "auc" and abs(got["point"] - v) < 0.05), (k, got, v)
    assert got["lo"] is None or got["lo"] <= got["point"] <= got["hi"], (k, got)
print("evaluate matches predict on", len(rows), "test images: AUC", round(auc, 3))
PY
cp "$T/sweep/results.h5" "$T/eval-copy.h5" && h5clear -s "$T/eval-copy.h5" >/dev/null 2>&1
h5dump -d /evaluations "$T/eval-copy.h5" >"$T/evaluations.txt" \
  || { echo "FAIL: h5dump /evaluations"; fails=$((fails+1)); }
expect_in "$T/evaluations.txt" '"split":"test"'
check "evaluate again" 0 "$bin" evaluate "$T/sweep" --threads 2
expect_in "$tmp/out" "note: the test split was evaluated before"
expect_in "$tmp/out" "evaluation 2 of the test split"
check "leaderboard json after evaluate" 0 "$bin" leaderboard "$T/sweep" --format json
cp "$tmp/out" "$T/lb2.json"
py "$T/lb2.json" "$T/eval1.json" <<'PY'
import json, sys
lb = json.load(open(sys.argv[1])); ev = json.load(open(sys.argv[2]))
assert lb["test_evaluations"] == 2, lb["test_evaluations"]
for r in lb["rows"]:
    if r["id"] == ev["trial"]["id"]:
        assert abs(r["test_auc"] - ev["metrics"]["auc"]["point"]) < 1e-12, (r["test_auc"], ev["metrics"])
    else:  # test numbers for the evaluated model only
        assert r["test_auc"] is None and r["test_sensitivity"] is None, r
PY
check "leaderboard md after evaluate" 0 "$bin" leaderboard "$T/sweep"
expect_in "$tmp/out" "test AUC [95% CI]"
expect_in "$tmp/out" "the test split was scored 2 time(s) in all"
check "plot after evaluate" 0 "$bin" plot "$T/sweep" --out "$T/plots"
expect_in "$T/plots/report.html" "test AUC [95% CI]"
check "export after evaluate" 0 "$bin" export "$T/sweep" --out "$T/model2"
py "$T/model2/model.json" "$T/eval1.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); first = json.load(open(sys.argv[2]))
assert m["test"]["earlier_test_evaluations"] == 1, m["test"]   # the latest evaluation
assert m["test"]["metrics"] == first["metrics"], "the same model scored twice differs"
PY
expect_in "$T/model2/MODEL_CARD.md" "## Test split (held out"
expect_in "$T/model2/MODEL_CARD.md" "evaluation 2 of the sweep's test split"
check "evaluate --trial slow" 0 "$bin" evaluate "$T/sweep" --trial slow --format json
mv "$T/data/test" "$T/test-aside"
check "evaluate with the test folder gone" 2 "$bin" evaluate "$T/sweep"
expect_in "$tmp/err" "missing split folder 'test'"
# A sweep whose data has no test split at all (splits.test: ""): one short trial.
check "train without a test split" 0 "$bin" train "$T/spec.yaml" --trial fast --out "$T/notest" \
  --cache-dir "$T/cache" --threads 2 --no-progress --set data.image_size=48 \
  --set training.epochs=1 --data-root "$T/data" --set 'data.splits={train: train, val: valid, test: ""}' 
check "evaluate without a test split" 2 "$bin" evaluate "$T/notest"
expect_in "$tmp/err" "has no test split (data.test_split '' holds no image)"
mv "$T/test-aside" "$T/data/test"

# --- errors -------------------------------------------------------------------------------
check "unknown trial" 2 "$bin" export "$T/sweep" --out "$T/x" --trial nope
expect_in "$tmp/err" "--trial 'nope': no trial"
check "not a sweep" 2 "$bin" export "$T/data" --out "$T/x"
expect_in "$tmp/err" "no results.h5"
epoch="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["selection"]["epoch"])' "$T/model/model.json")"
ckpt="$T/sweep/trials/$id/$(printf 'epoch-%04d.ckpt' "$epoch")"
mv "$ckpt" "$T/aside.ckpt"
check "pruned checkpoint" 2 "$bin" export "$T/sweep" --out "$T/x"
expect_in "$tmp/err" "$ckpt: missing"
mv "$T/aside.ckpt" "$ckpt"
[ -e "$T/x/model.json" ] && { echo "FAIL: a failed export left a model.json"; fails=$((fails+1)); }

printf 'not an image' >"$T/bad.png"
check "corrupt image" 2 "$bin" predict --model "$T/model" --csv "${val[0]}" "$T/bad.png" "${val[1]}"
expect_in "$tmp/err" "$T/bad.png"
[ "$(wc -l <"$tmp/out")" -eq 3 ] || { echo "FAIL: the good images were not all scored"; cat "$tmp/out"; fails=$((fails+1)); }
check "missing model" 2 "$bin" predict --model "$T/nomodel" "${val[0]}"
expect_in "$tmp/err" "$T/nomodel/model.json: missing"
rm "$T/model/model.safetensors"
check "missing weights" 2 "$bin" predict --model "$T/model" "${val[0]}"
expect_in "$tmp/err" "model.safetensors: missing"

finish
