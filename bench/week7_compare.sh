#!/usr/bin/env bash
# Whole-sweep wall time: the week-7 sweep (three variants, 7 epochs) with mammosweep, in one
# process and under `mpirun -np (THREADS + 1)` (one worker rank per thread, 1 thread each;
# idle ranks lend their threads), versus bench/week7_sweep.py (plain PyTorch/torchvision),
# same synthetic data, same image size, same threads, run one after the other by this script.
#   bench/week7_compare.sh [DATA_DIR] [SIZE] [THREADS] [PRECISION] [RUNS]
# DATA_DIR defaults to demo-out/data (made by scripts/demo, or by `mammosweep synth`).
# PRECISION fp32 (default, the report's) or bf16: both sides under bf16 CPU autocast.
# RUNS (default 1) repeats the three launches back to back. It ends with a table of every
# run: its start, the load average before it, the three wall times and mpirun / Python; then
# the medians (docs/performance.md reports medians of at least 3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/demo-out/data}"; size="${2:-64}"; threads="${3:-2}"; precision="${4:-fp32}"
runs="${5:-1}"
ms="${MAMMOSWEEP:-$root/build/orchestrator/mammosweep}"
py="$root/.venv/bin/python"
"$py" -c "import torchvision" 2>/dev/null || "$root/.venv/bin/pip" install -q torchvision==0.26.0 pillow
[ -d "$data/train" ] || "$ms" synth --out "$data" --count 600 --size "$size" --seed 7
out="$(mktemp -d)"
# The logs stay for reading; the checkpoints and the image cache (about 1 GB a run) do not.
trap 'rm -rf "$out/cache" "$out"/run*/sweep*/trials' EXIT
echo "precision $precision; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$runs"); do
  dir="$out/run$run"; mkdir -p "$dir"
  load="$(cut -d' ' -f1 /proc/loadavg)"; start="$(date -u +%H:%M)"
  t0=$(date +%s.%N)
  "$ms" run "$root/sweeps/week7.yaml" --out "$dir/sweep" --cache-dir "$out/cache" \
    --set "data.root=$data" --set "data.image_size=$size" --set "training.precision=$precision" \
    --threads "$threads" --no-progress --profile \
    >"$dir/mammosweep.log"
  t1=$(date +%s.%N)
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun --oversubscribe -np $((threads + 1)) "$ms" run "$root/sweeps/week7.yaml" \
    --out "$dir/sweep-mpi" --cache-dir "$out/cache" --set "data.root=$data" \
    --set "data.image_size=$size" --set "training.precision=$precision" --threads 1 --no-progress \
    --profile >"$dir/mammosweep-mpi.log"
  t2=$(date +%s.%N)
  "$py" "$root/bench/week7_sweep.py" --data "$data" --size "$size" --threads "$threads" \
    --precision "$precision" >"$dir/python.log"
  t3=$(date +%s.%N)
  echo "$run $start $load $t0 $t1 $t2 $t3" >>"$out/times"
  echo "run $run of $runs done"
done
python3 - "$out/times" "$threads" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
t = int(sys.argv[2])
print(f"| run (UTC start) | load | one process, {t} threads | mpirun, {t} x 1 thread | Python | mpirun / Python |")
print("|---|---:|---:|---:|---:|---:|")
one, mpi, py = [], [], []
for run, start, load, t0, t1, t2, t3 in rows:
    a, b, c = float(t1) - float(t0), float(t2) - float(t1), float(t3) - float(t2)
    one.append(a); mpi.append(b); py.append(c)
    print(f"| {run} ({start}) | {load} | {a:.0f} s | {b:.0f} s | {c:.0f} s | {b / c:.2f} |")
m1, m2, m3 = (statistics.median(v) for v in (one, mpi, py))
print(f"| median | | {m1:.0f} s | {m2:.0f} s | {m3:.0f} s | {m2 / m3:.2f} (of the medians) |")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); logs in $out"
