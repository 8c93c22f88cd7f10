#!/usr/bin/env bash
# `mammosweep check-data SPEC`: data summary and leakage guard without training, exit codes
# (0 clean, 2 on findings under leakage: error, 0 under warn) and clear errors for bad input.
set -uo pipefail
bin="${MAMMOSWEEP:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"

"$bin" synth --out "$tmp/data" --count 60 --size 96 --seed 4 >/dev/null || exit 1
cat >"$tmp/spec.yaml" <<YAML
name: lint
data: {root: $tmp/data, image_size: 64}
variants:
  - {name: a}
YAML

check "help" 0 "$bin" check-data --help
check "clean data" 0 "$bin" check-data "$tmp/spec.yaml" --threads 2
for text in "60 images, leakage policy error" "| split | class 0 | class 1 | total |" "| train |" \
            "| val   |" "| test  |" "| all   | 39      | 21      | 60    |" "sizes: 96x96: 60" \
            "pixel formats: 8-bit gray: 60" "0 cross-split finding(s)" "ok: no image"; do
  expect_in "$tmp/out" "$text"
done

# Plant a left-right mirrored copy of a train image in valid (as PGM; decoded from the PNG
# with the standard library only).
python3 - "$tmp/data/train/0/synth_0_00000.png" "$tmp/data/valid/0/mirrored_copy.pgm" <<'PY' || exit 1
import os, sys
sys.path.insert(0, os.path.join(os.environ["MAMMOSWEEP_SOURCE_DIR"], "tests"))
from png_gray8 import read_png_gray8
w, h, rows = read_png_gray8(sys.argv[1])
rows = [bytes(reversed(r)) for r in rows]
open(sys.argv[2], "wb").write(b"P5\n%d %d\n255\n" % (w, h) + b"".join(rows))
PY
check "mirrored copy, leakage error" 2 "$bin" check-data "$tmp/spec.yaml" --threads 2 --json "$tmp/report.json"
expect_in "$tmp/out" "augmented 1"
expect_in "$tmp/out" "augmented: $tmp/data/train/0/synth_0_00000.png (train) <-> $tmp/data/valid/0/mirrored_copy.pgm (val)"
expect_in "$tmp/out" "mirrored left-right"
expect_in "$tmp/out" "pixel formats: 8-bit gray: 61"
expect_in "$tmp/err" "1 cross-split finding(s) under data.leakage: error"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['counts']['augmented'] == 1 and d['images'] == 61, d" \
  "$tmp/report.json" || { echo "FAIL: report.json"; fails=$((fails+1)); }
check "mirrored copy, leakage warn" 0 "$bin" check-data "$tmp/spec.yaml" --set data.leakage=warn
expect_in "$tmp/out" "warning: 1 cross-split finding(s); data.leakage is warn"

# Bad input: a clear error and exit 2.
check "missing data root" 2 "$bin" check-data "$tmp/spec.yaml" --set data.root="$tmp/nowhere"
expect_in "$tmp/err" "$tmp/nowhere"
check "missing spec" 2 "$bin" check-data "$tmp/nope.yaml"
expect_in "$tmp/err" "$tmp/nope.yaml: error: cannot read the spec"
printf 'name: bad\ndata: {root: %s, leakage: sometimes}\nvariants: [{name: a}]\n' "$tmp/data" >"$tmp/bad.yaml"
check "invalid spec" 2 "$bin" check-data "$tmp/bad.yaml"
expect_in "$tmp/err" "$tmp/bad.yaml:2"
printf 'not an image' >"$tmp/data/valid/1/broken.png"
check "corrupt image" 2 "$bin" check-data "$tmp/spec.yaml"
expect_in "$tmp/err" "$tmp/data/valid/1/broken.png"
finish
