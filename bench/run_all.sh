#!/usr/bin/env bash
# Runs every mammosweep benchmark and its Python counterpart in one go and prints markdown
# tables (see docs/performance.md for what each figure means).
#
#   bench/run_all.sh                 # pruned training matrix (9 cells), about 10-15 min on 2 cores
#   TRAIN_MATRIX=full bench/run_all.sh   # every cell (size x precision x layout x threads)
#
# Environment (all optional):
#   BUILD_DIR     build folder (default build-bench; configured with the benches on)
#   BENCH_OUT     scratch + results folder (default /tmp/mammosweep-bench); the raw JSON
#                 lines land in $BENCH_OUT/results.jsonl, the tables in $BENCH_OUT/report.md
#   TRAIN_MATRIX  quick (default) | full
#   WARMUP, STEPS untimed / timed training steps per cell (default 1 / 3 quick, 2 / 5 full)
#   SKIP_BUILD=1  use the binaries already in BUILD_DIR
#   SECTIONS      which sections to run (default "1 2 3 4 5"), e.g. SECTIONS=5
# It installs torchvision==0.26.0 (the release matching torch 2.11.0) and pillow into the
# project venv if they are missing. Not part of CI.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
OUT="${BENCH_OUT:-/tmp/mammosweep-bench}"
PY="$ROOT/.venv/bin/python"
MATRIX="${TRAIN_MATRIX:-quick}"
if [ "$MATRIX" = full ]; then WARMUP="${WARMUP:-2}"; STEPS="${STEPS:-5}"
else WARMUP="${WARMUP:-1}"; STEPS="${STEPS:-3}"; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN=(mpirun --oversubscribe --bind-to none)

want() { [[ " ${SECTIONS:-1 2 3 4 5} " == *" $1 "* ]]; }
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
started=$(date +%s)

# ---- Python extras -------------------------------------------------------------------------
if ! "$PY" -c 'import torchvision, PIL' 2>/dev/null; then
  echo "== installing torchvision==0.26.0 and pillow into $ROOT/.venv" >&2
  "$PY" -m pip install -q 'torchvision==0.26.0' pillow
fi

# ---- build ---------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building bench targets in $BUILD_DIR" >&2
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DMAMMOSWEEP_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD_DIR" -j2 --target mammosweep train_throughput data_pipeline dispatch \
    allreduce >&2
fi
BIN="$BUILD_DIR/bench"
CLI="$BUILD_DIR/orchestrator/mammosweep"

# record CMD...: runs CMD (which prints JSON lines), adds the 1-minute load average seen just
# before it started (or $LOAD_BEFORE when set), appends the lines to $RESULTS.
record() {
  local load="${LOAD_BEFORE:-}"
  [ -n "$load" ] || load=$(cut -d' ' -f1 /proc/loadavg)
  echo "-- [load $load] $*" >&2
  "$@" | while IFS= read -r line; do
    case "$line" in
      '{'*'}') echo "${line%\}}, \"load1_before\": $load}" | tee -a "$RESULTS" >&2 ;;
      *) echo "$line" >&2 ;;
    esac
  done
}

# ---- 1. training throughput ---------------------------------------------------------------
if want 1; then
echo "== 1. training throughput (warmup $WARMUP, steps $STEPS, matrix $MATRIX)" >&2
cells=()
if [ "$MATRIX" = full ]; then
  for size in 224 128; do
    batch=16
    for prec in fp32 bf16; do for cl in 0 1; do for t in 1 2; do
      cells+=("$size $batch $prec $cl $t")
    done; done; done
  done
else
  # size batch precision channels_last threads
  # (1 thread first: on a shared 2-core machine a 2-thread OpenMP team is the cell most
  # hurt by other load; see docs/performance.md.)
  cells=("128 16 fp32 0 1" "128 16 fp32 1 1" "128 16 bf16 1 1" "128 16 fp32 0 2"
         "128 16 fp32 1 2" "224 16 fp32 0 1" "224 16 fp32 1 1" "224 16 bf16 1 1"
         "224 16 fp32 1 2")
fi
for cell in "${cells[@]}"; do
  read -r size batch prec cl t <<<"$cell"
  args=(--size "$size" --batch "$batch" --precision "$prec" --threads "$t" --warmup "$WARMUP"
        --steps "$STEPS")
  [ "$cl" = 1 ] && args+=(--channels-last)
  record "$BIN/train_throughput" "${args[@]}"
  record "$PY" "$ROOT/bench/train_throughput.py" "${args[@]}"
done

fi

# ---- 2. data pipeline ----------------------------------------------------------------------
if want 2; then
echo "== 2. data pipeline" >&2
DATA="$OUT/synth640"
record "$BIN/data_pipeline" --data "$DATA" --count 200 --src-size 640 --size 224 --batch 16 \
  --threads 2 --loader-epochs 4
record "$PY" "$ROOT/bench/data_pipeline.py" --data "$DATA" --size 224 --batch 16 --threads 2 \
  --loader-epochs 4

fi

# ---- 3. dispatch ---------------------------------------------------------------------------
if want 3; then
echo "== 3. dispatch" >&2
record "${MPIRUN[@]}" -np 4 "$BIN/dispatch" --trials 3000

fi

# ---- 4. allreduce --------------------------------------------------------------------------
if want 4; then
echo "== 4. allreduce" >&2
load=$(cut -d' ' -f1 /proc/loadavg)
LOAD_BEFORE=$load record "${MPIRUN[@]}" -np 2 "$BIN/allreduce" --floats 25000000 --iters 10

fi

# ---- 5. data-parallel efficiency -----------------------------------------------------------
if want 5; then
echo "== 5. data-parallel efficiency" >&2
DP="$OUT/dp"
rm -rf "$DP"
mkdir -p "$DP"
"$CLI" synth --out "$DP/data" --count 320 --size 64 --seed 3 >/dev/null
dp_spec() {  # dp_spec FILE BATCH [resources line]
  cat >"$1" <<YAML
name: dp-bench
seed: 1
method: variants
data: {root: $DP/data, image_size: 64}
training: {epochs: 3, batch_size: $2, optimizer: adam, lr: 1.0e-4, unfrozen_fraction: 1.0, dense_units: 256, dropout: 0.2}
${3:-}
variants:
  - {name: dp}
YAML
}
# dp_ips LABEL LOG: mean img/s of epochs 2.. (epoch 1 warms up) from the run log.
dp_ips() {
  "$PY" - "$1" "$2" <<'PYEOF'
import json, re, sys
label, log = sys.argv[1], open(sys.argv[2]).read()
ips = [float(x) for x in re.findall(r"([\d.]+) img/s", log)]
if not ips:
    sys.exit("no 'img/s' in " + sys.argv[2] + ":\n" + log[-2000:])
later = ips[1:] or ips
print(json.dumps({"bench": "dp", "config": label, "epochs_img_per_s": ips,
                  "img_per_s": sum(later) / len(later)}))
PYEOF
}
dp_spec "$DP/two.yaml" 16 "resources: {replicas: 2, threads: 1}"
dp_spec "$DP/one.yaml" 16
dp_spec "$DP/one32.yaml" 32
load=$(cut -d' ' -f1 /proc/loadavg)
"${MPIRUN[@]}" -np 3 "$CLI" run "$DP/two.yaml" --out "$DP/two" --cache-dir "$DP/cache" \
  --no-progress >"$DP/two.log" 2>&1 || { cat "$DP/two.log" >&2; exit 1; }
dp_ips "2x1 (mpirun -np 3, replicas 2, batch 16/rank)" "$DP/two.log" | LOAD_BEFORE=$load record cat
load=$(cut -d' ' -f1 /proc/loadavg)
"$CLI" run "$DP/one.yaml" --out "$DP/one" --cache-dir "$DP/cache" --threads 2 --no-progress \
  >"$DP/one.log" 2>&1 || { cat "$DP/one.log" >&2; exit 1; }
dp_ips "1x2 (one process, --threads 2, batch 16)" "$DP/one.log" | LOAD_BEFORE=$load record cat
load=$(cut -d' ' -f1 /proc/loadavg)
"$CLI" run "$DP/one32.yaml" --out "$DP/one32" --cache-dir "$DP/cache" --threads 2 \
  --no-progress >"$DP/one32.log" 2>&1 || { cat "$DP/one32.log" >&2; exit 1; }
dp_ips "1x2 (one process, --threads 2, batch 32)" "$DP/one32.log" | LOAD_BEFORE=$load record cat

fi

# ---- report --------------------------------------------------------------------------------
elapsed=$(( $(date +%s) - started ))
"$PY" - "$RESULTS" "$elapsed" <<'PYEOF' | tee "$OUT/report.md"
import json, subprocess, sys, datetime
import torch
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
model = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True,
              text=True).stdout.splitlines() if l.startswith("Model name")), "?")
print(f"machine: {model}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; "
      f"date: {datetime.datetime.now().isoformat(timespec='minutes')}; torch {torch.__version__}; "
      f"run_all.sh wall time {sys.argv[2]} s\n")

def by(bench, **kw):
    return [r for r in rows if r["bench"] == bench and all(r.get(k) == v for k, v in kw.items())]

print("### 1. Training throughput (forward + backward + Adam step), img/s\n")
print("img/s = batch x timed steps / their total time; 'median' = batch / median step time (robust to a")
print("step slowed down by other load).\n")
print("| size | batch | precision | channels_last | threads | C++ img/s | Python img/s | C++/Py | C++ median | Py median | C++ peak RSS MiB | Py peak RSS MiB | load before (C++/Py) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
cpp = by("train_throughput", impl="cpp")
for c in cpp:
    key = {k: c[k] for k in ("size", "batch", "precision", "channels_last", "threads")}
    p = (by("train_throughput", impl="python", **key) or [None])[0]
    py_ips = p["img_per_s"] if p else float("nan")
    print(f"| {c['size']} | {c['batch']} | {c['precision']} | {'on' if c['channels_last'] else 'off'} | {c['threads']} "
          f"| {c['img_per_s']:.2f} | {py_ips:.2f} | {c['img_per_s'] / py_ips:.2f} "
          f"| {c['batch'] / c['median_step_s']:.2f} | {p['batch'] / p['median_step_s'] if p else float('nan'):.2f} "
          f"| {c['peak_rss_mib']:.0f} | {p['peak_rss_mib'] if p else float('nan'):.0f} "
          f"| {c['load1_before']} / {p['load1_before'] if p else '?'} |")
for size in sorted({c["size"] for c in cpp}, reverse=True):
    best = max((c for c in cpp if c["size"] == size), key=lambda c: c["img_per_s"])
    base = by("train_throughput", impl="python", size=size, precision="fp32", channels_last=False)
    if base:
        b = max(base, key=lambda r: r["img_per_s"])
        print(f"\nsize {size}: best C++ {best['img_per_s']:.2f} img/s ({best['precision']}, channels_last "
              f"{'on' if best['channels_last'] else 'off'}, {best['threads']} thread(s)) = "
              f"{best['img_per_s'] / b['img_per_s']:.2f}x the best Python fp32 eager cell "
              f"({b['img_per_s']:.2f} img/s, {b['threads']} thread(s), batch {b['batch']})")

print("\n### 2. Data pipeline, 224x224 from 640x640 PNG\n")
print("| stage | impl | threads/workers | images | img/s | load before |")
print("|---|---|---|---|---|---|")
for r in by("decode") + by("cache_build") + by("loader"):
    print(f"| {r['bench']} | {r['impl']} | {r.get('threads', r.get('prefetch_threads', 1))} | {r['images']} "
          f"| {r['img_per_s']:.1f} | {r['load1_before']} |")
loader = by("loader", impl="cpp")
train224 = [c for c in cpp if c["size"] == 224]
if loader and train224:
    best = max(train224, key=lambda c: c["img_per_s"])
    print(f"\ncached loader / trainer consumption at 224 (best C++ cell, {best['img_per_s']:.2f} img/s): "
          f"{loader[0]['img_per_s'] / best['img_per_s']:.0f}x")

print("\n### 3. Dispatch (no-op trainer, mpirun -np 4)\n")
for r in by("dispatch"):
    print(f"{r['trials']} trials over {r['workers']} workers: {r['trials_per_s']:.0f} trials/s "
          f"(coordinator CPU {r['coordinator_cpu_s']:.2f} s of {r['seconds']:.2f} s; load {r['load1_before']})")

print("\n### 4. Allreduce, 25M float32 (100 MB), 2 ranks, MPI\n")
for r in by("allreduce"):
    print(f"median {r['median_s']:.3f} s, min {r['min_s']:.3f} s, algbw {r['algbw_gbs']:.2f} GB/s, "
          f"busbw {r['busbw_gbs']:.2f} GB/s (load {r['load1_before']})")

print("\n### 5. Data-parallel efficiency (64 px, ResNet50 fully unfrozen, epochs 2-3)\n")
print("| config | img/s per epoch | mean img/s (epochs 2..) | load before |")
print("|---|---|---|---|")
dp = by("dp")
for r in dp:
    print(f"| {r['config']} | {', '.join(f'{x:.1f}' for x in r['epochs_img_per_s'])} | {r['img_per_s']:.1f} | {r['load1_before']} |")
if len(dp) >= 2:
    print(f"\nefficiency 2x1 / 1x2 (same trial, batch 16 per replica): {dp[0]['img_per_s'] / dp[1]['img_per_s']:.2f}")
if len(dp) >= 3:
    print(f"efficiency 2x1 / 1x2 (same global batch 32): {dp[0]['img_per_s'] / dp[2]['img_per_s']:.2f}")
PYEOF
