#!/usr/bin/env bash
# Whole-sweep wall time: the week-7 sweep (three variants, 7 epochs) with mammosweep, in one
# process and under `mpirun -np (THREADS + 1)` (one worker rank per thread, 1 thread each;
# idle ranks lend their threads), versus bench/week7_sweep.py (plain PyTorch/torchvision),
# same synthetic data, same image size, same threads, run one after the other by this script.
#   bench/week7_compare.sh [DATA_DIR] [SIZE] [THREADS] [PRECISION]
# DATA_DIR defaults to demo-out/data (made by scripts/demo, or by `mammosweep synth`).
# PRECISION fp32 (default, the report's) or bf16: both sides under bf16 CPU autocast.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/demo-out/data}"; size="${2:-64}"; threads="${3:-2}"; precision="${4:-fp32}"
ms="${MAMMOSWEEP:-$root/build/orchestrator/mammosweep}"
py="$root/.venv/bin/python"
"$py" -c "import torchvision" 2>/dev/null || "$root/.venv/bin/pip" install -q torchvision==0.26.0 pillow
[ -d "$data/train" ] || "$ms" synth --out "$data" --count 600 --size "$size" --seed 7
out="$(mktemp -d)"
echo "precision $precision; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s.%N)
"$ms" run "$root/sweeps/week7.yaml" --out "$out/sweep" --cache-dir "$out/cache" \
  --set "data.root=$data" --set "data.image_size=$size" --set "training.precision=$precision" \
  --threads "$threads" --no-progress --profile \
  >"$out/mammosweep.log"
t1=$(date +%s.%N)
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  mpirun --oversubscribe -np $((threads + 1)) "$ms" run "$root/sweeps/week7.yaml" \
  --out "$out/sweep-mpi" --cache-dir "$out/cache" --set "data.root=$data" \
  --set "data.image_size=$size" --set "training.precision=$precision" --threads 1 --no-progress \
  --profile >"$out/mammosweep-mpi.log"
t2=$(date +%s.%N)
"$py" "$root/bench/week7_sweep.py" --data "$data" --size "$size" --threads "$threads" \
  --precision "$precision" >"$out/python.log"
t3=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" "$t3" "$threads" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
one, mpi, p = t1 - t0, t2 - t1, t3 - t2
print(f"mammosweep run (one process, {sys.argv[5]} threads): {one:.0f} s  (python / this: {p / one:.2f})")
print(f"mammosweep under mpirun ({sys.argv[5]} x 1 thread):  {mpi:.0f} s  (python / this: {p / mpi:.2f})")
print(f"python week7_sweep.py:                    {p:.0f} s")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); logs in $out"
