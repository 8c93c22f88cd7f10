#!/usr/bin/env bash
# `export --format onnx`: a tiny real sweep on synthetic data (every BatchNorm trained, so the
# folded running statistics are not 0/1), the winner exported as ONNX, and the file run by
# onnxruntime (PyPI, in the project venv) on every validation image: its probabilities must
# equal `mammosweep predict`'s within 1e-4, with batch 1 and with the whole split as one
# batch (the dynamic batch dimension). The PNGs are decoded here with zlib, independently of
# mammosweep's libpng path. Also: model.json / MODEL_CARD.md list the format, the graph's
# opset, inputs and outputs, and the documented errors (unknown format, missing weights,
# corrupt weights for the writer, `--format tflite` without the deploy extra).
set -uo pipefail
bin="${MAMMOSWEEP:?}"
onnx_writer="${MAMMOSWEEP_ONNX:?}"
python="${MAMMOSWEEP_PYTHON:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
T="$tmp"
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"
# shellcheck source=deploy_fixture.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy_fixture.sh"   # train_tiny
"$python" -c "import onnxruntime, numpy" 2>/dev/null \
  || { echo "FAIL: $python cannot import onnxruntime (scripts/setup installs it)"; exit 1; }

train_tiny onnx-test 4 11 40 48

# --- the documented errors ------------------------------------------------------------------
check "unknown format" 2 "$bin" export "$T/sweep" --out "$T/bad" --format safetensors,coreml
expect_in "$tmp/err" "unknown format 'coreml' (known: safetensors, onnx, tflite)"
[ -e "$T/bad" ] && fail "an unknown format still wrote $T/bad"
# TF Lite without the deploy extra: refused before anything is written, naming the command.
MAMMOSWEEP_DEPLOY_VENV="$T/no-venv" check "tflite: extra not installed" 2 \
  "$bin" export "$T/sweep" --out "$T/bad" --format tflite
expect_in "$tmp/err" "$T/no-venv/bin/python is missing. Install it with \`scripts/setup --with-deploy\`"
mkdir -p "$T/bare-venv/bin" && ln -s "$(command -v python3)" "$T/bare-venv/bin/python"
MAMMOSWEEP_DEPLOY_VENV="$T/bare-venv" check "tflite: venv without the converter" 2 \
  "$bin" export "$T/sweep" --out "$T/bad" --format onnx,tflite
expect_in "$tmp/err" "the deploy venv $T/bare-venv lacks onnx2tf tensorflow ai_edge_litert onnxruntime"
expect_in "$tmp/err" "install it with \`scripts/setup --with-deploy\`"
[ -e "$T/bad" ] && fail "a refused tflite export still wrote $T/bad"
check "writer: no weights" 2 "$onnx_writer" --weights "$T/none/model.safetensors" --image-size 48 --out "$T/x.onnx"
expect_in "$tmp/err" "$T/none/model.safetensors: cannot open for reading"
printf 'not a safetensors file' >"$T/junk.safetensors"
check "writer: corrupt weights" 2 "$onnx_writer" --weights "$T/junk.safetensors" --image-size 48 --out "$T/x.onnx"
expect_in "$tmp/err" "$T/junk.safetensors: header length"
[ -e "$T/x.onnx" ] && fail "a failed write left $T/x.onnx"

# --- export as ONNX ------------------------------------------------------------------------
check "export onnx" 0 "$bin" export "$T/sweep" --out "$T/model" --format onnx
expect_in "$tmp/out" "$T/model/model.onnx"
for f in model.safetensors model.onnx model.json MODEL_CARD.md; do
  [ -s "$T/model/$f" ] || fail "$T/model/$f missing or empty"
done
expect_in "$T/model/MODEL_CARD.md" "| onnx | \`model.onnx\` |"
mkdir -p "$T/no-weights" && cp "$T/model/model.json" "$T/no-weights/"
check "predict: folder without weights" 2 "$bin" predict --model "$T/no-weights" "$T/data/valid/0/"*.png
expect_in "$tmp/err" "$T/no-weights/model.safetensors"

find "$T/data/valid" -type f -name '*.png' | LC_ALL=C sort >"$T/val.txt"
mapfile -t val <"$T/val.txt"
check "predict csv" 0 "$bin" predict --model "$T/model" --csv --threads 2 "${val[@]}"
cp "$tmp/out" "$T/pred.csv"

"$python" - "$T/model" "$T/pred.csv" <<'PY' || fail "onnxruntime check"
import csv, json, os, sys
import numpy as np
sys.path.insert(0, os.path.join(os.environ["MAMMOSWEEP_SOURCE_DIR"], "tests"))
import png_gray8  # zlib only: independent of mammosweep's libpng path
import onnxruntime as ort

folder, pred_csv = sys.argv[1], sys.argv[2]
card = json.load(open(os.path.join(folder, "model.json")))
formats = {f["format"]: f for f in card["formats"]}
assert set(formats) == {"safetensors", "onnx"}, formats
assert formats["onnx"]["bytes"] == os.path.getsize(os.path.join(folder, "model.onnx"))

def read_png_gray8(path):
    w, h, rows = png_gray8.read_png_gray8(path)
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(h, w)

rows = list(csv.DictReader(open(pred_csv)))
size = card["preprocessing"]["image_size"]
# The synthetic images are already image_size square, 8-bit, no CLAHE: predict's input is the
# gray image copied to RGB, / 255 (the normalisation is inside the ONNX graph).
x = np.stack([np.repeat(read_png_gray8(r["path"])[None].astype(np.float32) / 255.0, 3, 0)
              for r in rows])
assert x.shape == (len(rows), 3, size, size), x.shape
want = np.array([float(r["probability"]) for r in rows])

sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
inputs, outputs = sess.get_inputs(), sess.get_outputs()
assert [i.name for i in inputs] == ["image"] and inputs[0].shape == ["batch", 3, size, size], inputs[0].shape
assert [o.name for o in outputs] == ["probabilities", "p_malignant"], [o.name for o in outputs]
meta = sess.get_modelmeta()
assert abs(float(meta.custom_metadata_map["threshold"]) - card["threshold"]) < 1e-12
probs_all, p_all = sess.run(None, {"image": x})                       # batch N
p_one = np.array([sess.run(["p_malignant"], {"image": x[i:i + 1]})[0][0] for i in range(len(x))])
assert probs_all.shape == (len(x), 2) and np.allclose(probs_all.sum(1), 1, atol=1e-5)
assert np.array_equal(p_all, probs_all[:, 1])
# predict prints 6 decimals: 5e-7 of rounding on top of the 1e-4 tolerance.
for name, got in (("batch N", p_all), ("batch 1", p_one)):
    worst = np.abs(got - want).max()
    print(f"onnxruntime vs predict ({name}, {len(x)} val images): max |diff| = {worst:.2e}")
    assert worst <= 1e-4 + 5e-7, (name, worst)
assert want.std() > 1e-3, "all probabilities equal: the comparison would not discriminate"
PY
# A later export without onnx removes the model.onnx of the earlier one (other weights).
check "export safetensors only" 0 "$bin" export "$T/sweep" --out "$T/model"
[ -e "$T/model/model.onnx" ] && fail "a stale model.onnx was left next to new weights"
py "$T/model/model.json" <<'PY2'
import json, sys
assert [f["format"] for f in json.load(open(sys.argv[1]))["formats"]] == ["safetensors"]
PY2
finish
