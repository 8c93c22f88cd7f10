#!/usr/bin/env bash
# What perfect orchestration could make of the week-7 sweep: each variant of sweeps/week7.yaml
# trained alone, in one process with 1 thread (`mammosweep train --profile`), one after the
# other; the sum of their `train steps` and `validation` phases, divided by THREADS, is the
# wall time of a sweep with no fixed cost, no idle core and no loss from sharing the machine.
# Under the same launch, no scheduling, caching of fixed work or checkpoint mechanism can go
# below it; only less work per step (or faster kernels) can. Compare it with the Python
# script's time from bench/week7_compare.sh, run in the same session.
#   bench/week7_bound.sh [DATA_DIR] [SIZE] [THREADS] [EXTRA --set ARGS...]
# e.g. bench/week7_bound.sh /tmp/w7data 64 2 --set training.channels_last=true
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/demo-out/data}"; size="${2:-64}"; threads="${3:-2}"
shift $(( $# < 3 ? $# : 3 ))
ms="${MAMMOSWEEP:-$root/build/orchestrator/mammosweep}"
[ -d "$data/train" ] || "$ms" synth --out "$data" --count 600 --size "$size" --seed 7
out="$(mktemp -d)"
# The logs stay for reading; the checkpoints and the image cache do not.
trap 'rm -rf "$out/cache" "$out"/Model_*/' EXIT  # the folders, not Model_*.log
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for variant in "Model 1" "Model 2" "Model 3"; do
  "$ms" train "$root/sweeps/week7.yaml" --trial "$variant" --out "$out/${variant// /_}" \
    --cache-dir "$out/cache" --set "data.root=$data" --set "data.image_size=$size" "$@" \
    --threads 1 --no-progress --profile >"$out/${variant// /_}.log"
done
python3 - "$out" "$threads" <<'PY'
import glob, os, re, sys
out, threads = sys.argv[1], int(sys.argv[2])
total = 0.0
for log in sorted(glob.glob(os.path.join(out, "Model_*.log"))):
    text = open(log).read()
    phase = lambda name: float(re.search(r"^\| " + name + r" \| ([0-9.]+) \|", text, re.M).group(1))
    steps, val = phase("train steps"), phase("validation")
    total += steps + val
    print(f"{os.path.basename(log)[:-4].replace('_', ' ')}: train steps {steps:.1f} s, validation {val:.1f} s (1 thread)")
print(f"sum {total:.1f} core-seconds; bound with {threads} cores: {total / threads:.1f} s")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); logs in $out"
