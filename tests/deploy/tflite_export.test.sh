#!/usr/bin/env bash
# `export --format tflite` (label deploy_tflite): a tiny real sweep on synthetic data, scored
# once on test (`evaluate`), exported as TF Lite, and both files run here by the LiteRT
# interpreter (ai-edge-litert, in the deploy venv) on every validation and test image decoded
# with zlib, independently of mammosweep's libpng path:
#   - model.tflite (float32) equals `mammosweep predict` within 1e-3;
#   - model-int8.tflite has int8 input and output, and the AUC / sensitivity / specificity
#     that model.json reports for it (and for float32) are recomputed here from the
#     interpreter's outputs with numpy (Mann-Whitney AUC, ties 1/2) at model.json's threshold;
#   - the calibration was the training split's images (count checked against the data folder);
#   - the converter refuses a calibration set from another split, one that overlaps the
#     scored images, and a job without its ONNX file;
#   - a later export without tflite removes the TF Lite files of the earlier one.
# A pass writes .ci/deploy-hash's hash to .ci/deploy-tested (see .ci/run).
# Skipped (exit 77) when the deploy venv (scripts/setup --with-deploy) is not installed; the
# errors that need no venv (not installed, unknown format) are in onnx_export.test.sh.
set -uo pipefail
bin="${MAMMOSWEEP:?}"
src="${MAMMOSWEEP_SOURCE_DIR:?}"
venv="${MAMMOSWEEP_DEPLOY_VENV:-$src/.venv-deploy}"
dpy="$venv/bin/python"
if [ ! -x "$dpy" ]; then
  echo "SKIP: the deploy venv $venv is not installed (scripts/setup --with-deploy installs it)"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
T="$tmp"
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"
# shellcheck source=deploy_fixture.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy_fixture.sh"   # train_tiny

train_tiny tflite-test 3 5 60 32
check "evaluate" 0 "$bin" evaluate "$T/sweep" --threads 2

# --- the converter's own guards (before any heavy import) -----------------------------------
"$dpy" - "$T" "$src/deploy/tflite_convert.py" <<'PY' || fail "converter guards"
import json, os, subprocess, sys
T, script = sys.argv[1], sys.argv[2]
data = os.path.join(T, "data")
def images(split):
    d = os.path.join(data, split)
    return sorted(os.path.join(d, c, f) for c in os.listdir(d) for f in os.listdir(os.path.join(d, c)))
train, val = images("train"), images("valid")
def run(calibration, onnx=os.path.join(T, "x.onnx")):
    job = {"onnx": onnx, "out_dir": T, "work_dir": os.path.join(T, "w"), "image_size": 32,
           "calibration": calibration,
           "eval": [{"split": "val", "pixels": os.path.join(T, "v.u8"), "paths": val}]}
    json.dump(job, open(os.path.join(T, "job.json"), "w"))
    return subprocess.run([sys.executable, script, os.path.join(T, "job.json"), os.path.join(T, "r.json")],
                          capture_output=True, text=True)
open(os.path.join(T, "x.onnx"), "wb").close()
r = run({"split": "val", "pixels": "p", "paths": val})
assert r.returncode == 2 and "calibration images must come from the training split only, not 'val'" in r.stderr, r
r = run({"split": "train", "pixels": "p", "paths": train[:5] + val[:1]})
assert r.returncode == 2 and f"{val[0]} is a calibration image and a val image" in r.stderr, r
r = run({"split": "train", "pixels": "p", "paths": train}, onnx=os.path.join(T, "none.onnx"))
assert r.returncode == 2 and "none.onnx: missing" in r.stderr, r
assert not os.path.exists(os.path.join(T, "model.tflite"))
print("ok   converter guards (other split, overlap, missing ONNX)")
PY

# --- export as TF Lite ------------------------------------------------------------------
check "export tflite" 0 "$bin" export "$T/sweep" --out "$T/model" --format tflite
cat "$tmp/out"
for f in model.safetensors model.onnx model.tflite model-int8.tflite model.json MODEL_CARD.md; do
  [ -s "$T/model/$f" ] || fail "$T/model/$f missing or empty"
done
[ -e "$T/model/.tflite-work" ] && fail "the work folder was left in the model folder"
expect_in "$T/model/MODEL_CARD.md" "| tflite-int8 | \`model-int8.tflite\` |"
expect_in "$T/model/MODEL_CARD.md" "## Deployment checks (TF Lite)"
expect_in "$T/model/MODEL_CARD.md" "**int8 - float32 on val:**"
expect_in "$T/model/MODEL_CARD.md" "**int8 - float32 on test:**"

find "$T/data/valid" "$T/data/test" -type f -name '*.png' | LC_ALL=C sort >"$T/eval.txt"
mapfile -t imgs <"$T/eval.txt"
check "predict csv" 0 "$bin" predict --model "$T/model" --csv --threads 2 "${imgs[@]}"
cp "$tmp/out" "$T/pred.csv"

"$dpy" - "$T/model" "$T/pred.csv" "$T/data" <<'PY' || fail "LiteRT check"
import csv, json, os, sys
import numpy as np
sys.path.insert(0, os.path.join(os.environ["MAMMOSWEEP_SOURCE_DIR"], "tests"))
import png_gray8  # zlib only: independent of mammosweep's libpng path
from ai_edge_litert.interpreter import Interpreter

folder, pred_csv, data = sys.argv[1:4]
card = json.load(open(os.path.join(folder, "model.json")))
formats = {f["format"]: f for f in card["formats"]}
assert list(formats) == ["safetensors", "onnx", "tflite", "tflite-int8"], list(formats)
for f in formats.values():
    assert f["bytes"] == os.path.getsize(os.path.join(folder, f["file"])), f
checks = card["deploy_checks"]
n_train = sum(len(files) for _, _, files in os.walk(os.path.join(data, "train")))
assert checks["calibration"] == {"split": "train", "images": min(300, n_train)}, checks["calibration"]
threshold = card["threshold"]

rows = list(csv.DictReader(open(pred_csv)))
def pixels(path):
    w, h, r = png_gray8.read_png_gray8(path)
    g = np.frombuffer(b"".join(r), dtype=np.uint8).reshape(h, w)
    return np.repeat(g[:, :, None], 3, 2).astype(np.float32) / 255.0   # HWC RGB, pixel / 255
x = np.stack([pixels(r["path"]) for r in rows])
size = card["preprocessing"]["image_size"]
assert x.shape == (len(rows), size, size, 3), x.shape
want = np.array([float(r["probability"]) for r in rows])
labels = np.array([int(os.path.basename(os.path.dirname(r["path"]))) for r in rows])
split = np.array(["val" if "/valid/" in r["path"] else "test" for r in rows])

def run(path):
    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    inp = runner.get_input_details()["image"]
    out = runner.get_output_details()["p_malignant"]
    assert list(inp["shape"]) == [1, size, size, 3], inp["shape"]
    p = []
    for img in x:
        v = img[None]
        if inp["dtype"] == np.int8:
            s, z = inp["quantization"]
            v = np.clip(np.round(v / s) + z, -128, 127).astype(np.int8)
        y = runner(image=v)["p_malignant"].reshape(-1)[0]
        if out["dtype"] == np.int8:
            s, z = out["quantization"]
            y = (float(y) - z) * s
        p.append(float(y))
    return np.array(p), inp["dtype"], out["dtype"]

fp32, in32, out32 = run(os.path.join(folder, "model.tflite"))
assert in32 == np.float32 and out32 == np.float32
worst = np.abs(fp32 - want).max()
print(f"LiteRT float32 vs predict ({len(x)} val+test images): max |diff| = {worst:.2e}")
assert worst <= 1e-3 + 5e-7, worst       # predict prints 6 decimals
assert want.std() > 1e-3, "all probabilities equal: the comparison would not discriminate"
int8, in8, out8 = run(os.path.join(folder, "model-int8.tflite"))
assert in8 == np.int8 and out8 == np.int8, (in8, out8)

def auc(p, y):  # Mann-Whitney: P(score_pos > score_neg) + 1/2 P(equal)
    pos, neg = p[y == 1], p[y == 0]
    return ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
def metrics(p, y):
    pred = p >= threshold
    return {"auc": auc(p, y), "sensitivity": pred[y == 1].mean(), "specificity": (~pred[y == 0]).mean()}

got = {(s["format"], s["split"]): s for s in checks["scores"]}
assert set(got) == {(f, s) for f in ("safetensors", "tflite", "tflite-int8") for s in ("val", "test")}, set(got)
for fmt, p in (("safetensors", want), ("tflite", fp32), ("tflite-int8", int8)):
    for s in ("val", "test"):
        m = metrics(p[split == s], labels[split == s])
        rec = got[(fmt, s)]
        assert rec["images"] == int((split == s).sum()), rec
        for k, v in m.items():
            tol = 1e-9
            if fmt == "safetensors" and k == "auc":  # the CSV's 6 decimals can make a tie: one pair
                tol = 1.0 / ((labels[split == s] == 1).sum() * (labels[split == s] == 0).sum())
            assert abs(rec[k]["point"] - v) <= tol, (fmt, s, k, rec[k], v)
            assert rec[k]["lo"] <= rec[k]["point"] <= rec[k]["hi"], (fmt, s, k, rec[k])
        print(f"{fmt:12s} {s:4s} AUC {m['auc']:.3f} sens {m['sensitivity']:.3f} spec {m['specificity']:.3f}")
assert checks["tflite_max_abs_diff_vs_predict"] <= 1e-3
assert set(checks["latency_ms"]) == {"safetensors", "onnx", "tflite", "tflite-int8"}
PY

# A later export without tflite removes the TF Lite files of the earlier one (other weights).
check "export onnx only" 0 "$bin" export "$T/sweep" --out "$T/model" --format onnx
for f in model.tflite model-int8.tflite; do
  [ -e "$T/model/$f" ] && fail "a stale $f was left next to new weights"
done
# A pass records the code it tested (.ci/deploy-hash): CI then skips this test until that code
# changes. Commit .ci/deploy-tested with the change.
[ "$fails" -eq 0 ] && "$src/.ci/deploy-hash" >"$src/.ci/deploy-tested"
finish
